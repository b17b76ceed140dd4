//! Shutdown (the README's Rust pattern): a process whose `main` ends with
//! `close().await` and then drops a held guard leaves the lock free at once
//! for another process — not held until its TTL (60 s here) runs out.
//!
//! The "other process" is this test binary run again with
//! `VINESYNC_SHUTDOWN_CHILD` set: it runs the ignored `child_process` test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use vinesync::{Client, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

const CHILD: &str = "VINESYNC_SHUTDOWN_CHILD";

fn options(endpoints: Vec<String>) -> Options {
    Options::new().prefix("/shutdown").nodes(endpoints)
}

#[test]
fn process_that_closes_then_drops_its_guard_leaves_the_lock_free() {
    let cluster = EtcdCluster::start(1).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_process", "--nocapture"])
        .env(CHILD, cluster.endpoints().join(","))
        .status()
        .unwrap();
    assert!(status.success(), "child failed: {status}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let s = Client::etcd(options(cluster.endpoints())).await.unwrap();
        let started = Instant::now();
        let guard = s
            .try_lock("job", LockOptions::new().ttl(Duration::from_secs(10)))
            .await
            .expect("the exited process's lock must be free at once");
        // At once: far below the 60 s TTL (10 s covers this handle's own
        // lease grant on a loaded machine).
        assert!(started.elapsed() < Duration::from_secs(10));
        guard.unlock().await.unwrap();
        s.close().await;
    });
}

/// The child process: takes the lock with a 60 s TTL, closes the handle and
/// drops the guard as the last statement of its `main`.
#[test]
#[ignore = "run as a child process by process_that_closes_then_drops_its_guard_leaves_the_lock_free"]
fn child_process() {
    let endpoints = std::env::var(CHILD).expect("run by the parent test");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let s = Client::etcd(options(endpoints.split(',').map(String::from).collect()))
            .await
            .unwrap();
        let guard = s
            .lock("job", LockOptions::new().ttl(Duration::from_secs(60)))
            .await
            .unwrap();
        s.close().await;
        drop(guard);
    });
}
