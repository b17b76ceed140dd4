//! The etcd a test binary runs against: the one named by `VINESYNC_NODES`
//! (when the suite runs under `vinesync-etcd run`), else a fresh cluster of
//! `members` started here and stopped when the returned guard drops.

#![allow(dead_code, clippy::print_stdout)]

use vinesync_testkit::EtcdCluster;

pub struct TestEtcd {
    pub endpoints: Vec<String>,
    pub cluster: Option<EtcdCluster>,
}

pub fn start(members: usize) -> TestEtcd {
    if members == 1 {
        if let Ok(nodes) = std::env::var("VINESYNC_NODES") {
            let endpoints: Vec<String> = nodes.split(',').map(str::to_string).collect();
            if !endpoints.is_empty() && !nodes.is_empty() {
                return TestEtcd {
                    endpoints,
                    cluster: None,
                };
            }
        }
    }
    match EtcdCluster::start(members) {
        Ok(cluster) => TestEtcd {
            endpoints: cluster.endpoints(),
            cluster: Some(cluster),
        },
        Err(error) => {
            eprintln!("cannot start etcd for the tests: {error}");
            std::process::exit(1);
        }
    }
}

impl TestEtcd {
    /// Fails the run if etcd still has leases after the suite (every case
    /// closes its handles, which revokes their leases). Only for a cluster
    /// this process started: a shared etcd may hold others' leases.
    pub fn assert_no_leases_left(&self) {
        let Some(cluster) = &self.cluster else { return };
        let mut listed = String::new();
        for _ in 0..50 {
            match cluster.etcdctl(&["lease", "list"]) {
                Ok(out) => listed = String::from_utf8_lossy(&out.stdout).into_owned(),
                Err(error) => {
                    eprintln!("etcdctl lease list failed: {error}");
                    std::process::exit(1);
                }
            }
            if listed.contains("found 0 leases") {
                println!("etcd lease list after the suite: {}", listed.trim());
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!("leases left in etcd after the suite:\n{listed}");
        std::process::exit(1);
    }
}

/// The conformance suite on `members` etcd members, its cases named
/// `{label}::…`; checks for leftover leases and stops etcd before exiting.
pub fn run_conformance(members: usize, label: &str) -> ! {
    use std::sync::Arc;
    let args = libtest_mimic::Arguments::from_args();
    let etcd = start(members);
    let endpoints = etcd.endpoints.clone();
    let factory: crate::conformance::Factory = Arc::new(move |options| {
        let endpoints = endpoints.clone();
        Box::pin(async move { vinesync::Client::etcd(options.nodes(endpoints)).await })
    });
    let conclusion = libtest_mimic::run(&args, crate::conformance::trials(label, factory));
    if !conclusion.has_failed() {
        etcd.assert_no_leases_left();
    }
    drop(etcd); // stop etcd before exiting
    conclusion.exit()
}
