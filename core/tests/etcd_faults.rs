//! etcd-specific faults from the etcd issue: a member of a 3-member cluster
//! killed under a held lock, and etcd stopped while a lock waits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use vinesync::{Client, ErrorKind, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

fn ttl(s: u64) -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(s))
}

async fn client(cluster: &EtcdCluster, prefix: &str, request_timeout: Duration) -> Client {
    Client::etcd(
        Options::new()
            .prefix(prefix)
            .nodes(cluster.endpoints())
            .request_timeout(request_timeout),
    )
    .await
    .unwrap()
}

/// Killing the member a client talks to: the lease survives (held locks
/// stay held, no lost signal) and lock/unlock go on through the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_member_keeps_locks_held_and_working() {
    let mut cluster = EtcdCluster::start(3).unwrap();
    let a = client(&cluster, "/faults/member", Duration::from_secs(10)).await;
    let b = client(&cluster, "/faults/member", Duration::from_secs(10)).await;
    // TTL 5 s: when the killed member was the raft leader, the others
    // take an election (1-2 s, longer on a loaded machine) before they
    // renew anything; a 2 s lease could honestly be lost in that gap.
    let held = a.lock("held", ttl(5)).await.unwrap();
    cluster.kill_member(0).unwrap();
    // Over two TTLs pass: the keepalives go to the surviving members.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(!held.is_lost(), "the lease must survive a member's death");
    assert_eq!(
        b.try_lock("held", ttl(2)).await.unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    for i in 0..20 {
        let id = format!("other-{}", i % 3);
        let g = b
            .lock(&id, ttl(2).wait(Duration::from_secs(10)))
            .await
            .unwrap();
        g.unlock().await.unwrap();
    }
    held.unlock().await.unwrap();
    b.try_lock("held", ttl(2))
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    cluster.restart_member(0).unwrap();
    a.close().await;
    b.close().await;
}

/// etcd stops while a lock waits: the wait ends by its deadline with
/// `Unavailable` or `LockTimeout` (never a hang), and after etcd is back
/// the same handle works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_etcd_ends_a_wait_by_its_deadline_then_recovers() {
    let mut cluster = EtcdCluster::start(1).unwrap();
    let a = client(&cluster, "/faults/stop", Duration::from_secs(2)).await;
    let b = client(&cluster, "/faults/stop", Duration::from_secs(2)).await;
    let held = a.lock("x", ttl(30)).await.unwrap();
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = b.lock("x", ttl(30).wait(Duration::from_secs(5))).await;
            (result.map(|g| g.detach()), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.stop_member(0).unwrap();
    let (result, took) = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("lock hung while etcd was down")
        .unwrap();
    let kind = result.unwrap_err().kind();
    assert!(
        matches!(kind, ErrorKind::Unavailable | ErrorKind::LockTimeout),
        "{kind:?}"
    );
    assert!(
        took < Duration::from_secs(12),
        "took {took:?}, deadline was 5 s"
    );
    cluster.restart_member(0).unwrap();
    // The same handles work again once etcd is back.
    held.unlock().await.unwrap();
    let g = b
        .lock("x", ttl(30).wait(Duration::from_secs(20)))
        .await
        .expect("handle did not recover after etcd came back");
    g.unlock().await.unwrap();
    a.close().await;
    b.close().await;
}

/// Errors name their kind in `Display` and keep the etcd client's error as
/// their `source()`: connecting to a loopback port nobody listens on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_error_shows_its_kind_and_keeps_its_source() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Client::etcd(
        Options::new()
            .nodes([format!("127.0.0.1:{port}")])
            .dial_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().starts_with("unavailable: "), "{err}");
    let source = std::error::Error::source(&err).expect("the etcd client's error as source");
    assert!(!source.to_string().is_empty());
}
