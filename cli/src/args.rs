//! The command line (clap). Connection flags are global: they may come
//! before or after the subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::{duration, exit, name, signal_name};

#[derive(Debug, Parser)]
#[command(
    name = "vinesync",
    version,
    about = "Run a program only while holding a lock or while primary, and see who holds what (etcd).",
    long_about = None,
    after_help = exit::HELP,
    // The same wrapping on every terminal, so the README shows what users see.
    term_width = 100,
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach etcd. Every flag falls back to the VINESYNC_* variable the
/// libraries read (`Options::from_env`), then to the default.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection (flags override the VINESYNC_* variables)")]
pub struct Connection {
    /// etcd endpoints, comma-separated [env: VINESYNC_NODES] [default: 127.0.0.1:2379]
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT,...",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// Key prefix [env: VINESYNC_PREFIX] [default: /vine/sync; empty with VINESYNC_LAYOUT=vine]
    #[arg(long, global = true)]
    pub prefix: Option<String>,
    /// CA certificate (PEM) to verify the server [env: VINESYNC_CACERT]
    #[arg(long, global = true, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS [env: VINESYNC_CERT]
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS [env: VINESYNC_KEY]
    #[arg(long, global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Server name to verify instead of the endpoint's host [env: VINESYNC_SERVER_NAME]
    #[arg(long, global = true, value_name = "NAME")]
    pub server_name: Option<String>,
    /// etcd user [env: VINESYNC_USER]
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// etcd password; prefer the variable, a flag shows in `ps` [env: VINESYNC_PASSWORD]
    #[arg(long, global = true)]
    pub password: Option<String>,
    /// Connection timeout per endpoint [env: VINESYNC_DIAL_TIMEOUT_MS] [default: 5s]
    #[arg(long, global = true, value_name = "D", value_parser = duration::parse, allow_hyphen_values = true)]
    pub dial_timeout: Option<Duration>,
    /// Deadline of one request, retries included [env: VINESYNC_REQUEST_TIMEOUT_MS] [default: 10s]
    #[arg(long, global = true, value_name = "D", value_parser = duration::parse, allow_hyphen_values = true)]
    pub request_timeout: Option<Duration>,
}

/// How CMD is stopped when the lock or the primary role is lost.
#[derive(Debug, Clone, Copy, Args)]
pub struct Stopping {
    /// Signal sent to CMD (and its process group) when the lock or role is lost
    #[arg(long, default_value = "TERM", value_parser = signal_name::parse)]
    pub signal: libc::c_int,
    /// Time CMD gets after the signal before SIGKILL
    #[arg(long, default_value = "10s", value_name = "D", value_parser = duration::parse, allow_hyphen_values = true)]
    pub grace: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Acquire lock NAME, run CMD while holding it, release it when CMD exits.
    ///
    /// CMD gets VINESYNC_LOCK_KEY and VINESYNC_FENCING_TOKEN (and etcdctl's
    /// ETCD_LOCK_KEY and ETCD_LOCK_REV) in its environment. If the lock is
    /// lost, CMD gets --signal, then SIGKILL after --grace, and vinesync
    /// exits with 76. SIGINT/SIGTERM to vinesync are forwarded to CMD; the
    /// lock is released when CMD exits. Without CMD: print the key and the
    /// fencing token and hold the lock until interrupted (like `etcdctl lock`).
    #[command(after_help = exit::HELP)]
    Lock(LockArgs),
    /// Campaign in an election; run CMD only while primary.
    ///
    /// CMD is stopped (--signal, then SIGKILL after --grace) when this
    /// candidate stops being primary, and vinesync campaigns again unless
    /// --once. CMD gets VINESYNC_LEADER_KEY, VINESYNC_LEADER_ID and
    /// VINESYNC_FENCING_TOKEN. Without CMD: print "primary" when elected and
    /// hold until interrupted. `--list` lists the candidates instead.
    #[command(after_help = exit::HELP)]
    Elect(ElectArgs),
    /// List the candidates of an election namespace with their roles.
    Members(MembersArgs),
    /// Print election events (joined, left, elected) as they happen.
    Watch(WatchArgs),
    /// List locks with their holder and their waiters in order.
    Locks(LocksArgs),
    /// (internal) Stops CMD when vinesync stops confirming its lock.
    #[command(hide = true)]
    Watchdog(WatchdogArgs),
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The lock id
    #[arg(value_parser = name::parse)]
    pub name: String,
    /// Lease TTL: how long the lock outlives a vinesync that stopped or vanished
    #[arg(long, default_value = "60s", value_name = "D", value_parser = duration::parse_ttl, allow_hyphen_values = true)]
    pub ttl: Duration,
    /// Give up (exit 75) when the lock is not acquired within D [default: wait forever]
    #[arg(long, value_name = "D", value_parser = duration::parse, allow_hyphen_values = true, conflicts_with = "try_only")]
    pub wait: Option<Duration>,
    /// Exit at once with 75 when the lock is held by someone else
    #[arg(long = "try")]
    pub try_only: bool,
    #[command(flatten)]
    pub stopping: Stopping,
    /// The command to run while holding the lock
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ElectArgs {
    /// The election name (what other candidates see as `leader`)
    #[arg(required_unless_present = "list", value_parser = name::parse)]
    pub name: Option<String>,
    /// Election namespace
    #[arg(long, default_value = vinesync::DEFAULT_NAMESPACE, value_parser = name::parse)]
    pub ns: String,
    /// This candidate's id [default: a new UUID]
    #[arg(long, value_parser = name::parse)]
    pub id: Option<String>,
    /// Lease TTL: how long a primary that stopped or vanished keeps the role
    #[arg(long, default_value = "60s", value_name = "D", value_parser = duration::parse_ttl, allow_hyphen_values = true)]
    pub ttl: Duration,
    /// Run CMD for one term only: exit (76) instead of campaigning again
    #[arg(long)]
    pub once: bool,
    /// List the candidates of --ns instead of campaigning (as `members`)
    #[arg(long, conflicts_with_all = ["name", "id", "once", "cmd"])]
    pub list: bool,
    /// With --list: one JSON object per candidate
    #[arg(long, requires = "list")]
    pub json: bool,
    #[command(flatten)]
    pub stopping: Stopping,
    /// The command to run while primary
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MembersArgs {
    /// Election namespace
    #[arg(long, default_value = vinesync::DEFAULT_NAMESPACE, value_parser = name::parse)]
    pub ns: String,
    /// One JSON object per candidate
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Election namespace
    #[arg(long, default_value = vinesync::DEFAULT_NAMESPACE, value_parser = name::parse)]
    pub ns: String,
    /// Only events about this candidate id
    #[arg(long, value_parser = name::parse)]
    pub id: Option<String>,
    /// One JSON object per event
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LocksArgs {
    /// Only this lock [default: every lock under the prefix]
    #[arg(value_parser = name::parse)]
    pub id: Option<String>,
    /// One JSON object per lock
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchdogArgs {
    /// Process group to stop (CMD's). At least 2: kill(2) of -pgid reads 0
    /// as this process's own group, a negative value as one process, and
    /// 1 as every process.
    #[arg(long, value_parser = clap::value_parser!(i32).range(2..))]
    pub pgid: i32,
    #[arg(long, value_parser = duration::parse, allow_hyphen_values = true)]
    pub timeout: Duration,
    #[command(flatten)]
    pub stopping: Stopping,
}
