//! Which etcd the harness starts, chosen by the environment:
//!
//! - `VINESYNC_ETCD_DIR`: a directory holding `etcd` and `etcdctl` (one of
//!   the versions `scripts/build-etcd.sh` builds); unset = the ones on PATH
//!   (Debian's etcd 3.4 as `scripts/ensure-etcd.sh` installs it).
//! - `VINESYNC_ETCD_DEFAULTS=1`: start etcd with its default settings
//!   (heartbeat 100 ms, election timeout 1 s, hence a 2 s minimum lease TTL,
//!   and its gRPC keepalive policy) instead of the faster test timing.

use std::path::PathBuf;

/// The `etcd` server binary to run.
pub fn etcd() -> PathBuf {
    binary("etcd")
}

/// The `etcdctl` binary matching [`etcd`].
pub fn etcdctl() -> PathBuf {
    binary("etcdctl")
}

fn binary(name: &str) -> PathBuf {
    match std::env::var_os("VINESYNC_ETCD_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join(name),
        None => PathBuf::from(name),
    }
}

/// Whether etcd runs with its default settings (`VINESYNC_ETCD_DEFAULTS=1`).
pub fn default_settings() -> bool {
    std::env::var("VINESYNC_ETCD_DEFAULTS").is_ok_and(|v| v == "1")
}

/// The timing flags the harness adds unless [`default_settings`]: a faster
/// heartbeat and election timeout so member-loss tests finish quickly.
pub fn timing_args() -> &'static [&'static str] {
    if default_settings() {
        &[]
    } else {
        &["--heartbeat-interval", "50", "--election-timeout", "500"]
    }
}
