//! vine's `primary/{ns}` key under the vine layout on a real etcd (README,
//! "Migrating from vine"): the winner's write never blocks its candidacy.
//! A failed write leaves it primary (as vine's `_, _ = Put(...)`), and a
//! write that hangs is raced against the end of the candidacy: a lease
//! lost meanwhile ends it at once, not when the write returns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use vinesync::{Client, ErrorKind, Injected, KeyLayout, LeaderOptions, Options};
use vinesync_testkit::EtcdCluster;

fn options(cluster: &EtcdCluster, prefix: &str) -> Options {
    Options::new()
        .layout(KeyLayout::Vine)
        .prefix(prefix)
        .nodes(cluster.endpoints())
}

fn candidate(ns: &str, id: &str) -> LeaderOptions {
    LeaderOptions::new()
        .namespace(ns)
        .id(id)
        .ttl(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_primary_key_write_still_makes_a_primary() {
    let cluster = EtcdCluster::start(1).unwrap();
    let a = Client::etcd(options(&cluster, "/vp-fail")).await.unwrap();
    a.faults()
        .inject_at("vine_primary_claim", Injected::Error(ErrorKind::Internal));
    let leader = a.leader("svc", candidate("ns", "a")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), leader.wait_elected())
        .await
        .expect("not primary within 5 s after a failed primary-key write")
        .unwrap();
    let keys: Vec<String> = a
        .faults()
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert!(
        !keys.iter().any(|k| k.starts_with("/vp-fail/primary/")),
        "the injected failure should have kept the key unwritten: {keys:?}"
    );
    leader.resign().await.unwrap();
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_primary_key_write_ends_with_the_lease() {
    let cluster = EtcdCluster::start(1).unwrap();
    let a = Client::etcd(options(&cluster, "/vp-hang")).await.unwrap();
    // The write stalls for 60 s; the lease (TTL 2 s) is lost meanwhile.
    a.faults().inject_at(
        "vine_primary_claim",
        Injected::Delay(Duration::from_secs(60)),
    );
    let leader = a.leader("svc", candidate("ns", "a")).await.unwrap();
    let mut hit = a.faults().injected();
    tokio::time::timeout(Duration::from_secs(5), hit.wait_for(|h| h.is_some()))
        .await
        .expect("the claim was never reached")
        .unwrap();
    a.faults().suspend_keepalive(true);
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), leader.wait_elected())
        .await
        .expect("the candidacy did not end within 10 s of losing its lease: the claim is not raced against the loss");
    assert!(outcome.is_err(), "primary on a lost lease: {outcome:?}");
    assert!(!leader.is_primary());
    eprintln!(
        "candidacy ended {:?} after keepalives stopped (TTL 2 s)",
        started.elapsed()
    );
    a.close().await;
}
