//! The etcd test harness: real `etcd` processes (one node or a cluster) on
//! free loopback ports in a temporary directory, stopped and deleted when
//! the [`EtcdCluster`] is dropped — whatever happens to the test.
//!
//! Other languages use it through the `vinesync-etcd` binary:
//! `vinesync-etcd run [--members N] -- CMD...` runs CMD with
//! `VINESYNC_NODES` set; `vinesync-etcd serve` prints the endpoints as JSON
//! and takes fault commands (`kill I`, `restart I`, ...) on stdin.

mod auth;
pub mod binaries;
mod captured_log;
mod certs;
mod client_proxy;
mod cluster;
mod health;
mod member;
mod peer_proxy;

pub use auth::Auth;
pub use captured_log::CapturedLog;
pub use certs::Certs;
pub use client_proxy::{ClientProxy, Mode as ProxyMode};
pub use cluster::{Builder, EtcdCluster, Tls};
