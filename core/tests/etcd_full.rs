//! An etcd whose database is full (alarm NOSPACE; a default etcd without
//! auto-compaction gets there in time) refuses every write until an
//! operator frees space. vinesync says so at once instead of retrying for
//! its request timeout, a `lock` that times out names it as the reason (the
//! lock is not merely busy), a lock held before keeps its lease (keepalives
//! and deletes are not refused), and a `lock` still waiting proceeds once
//! the alarm is disarmed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use vinesync::{Client, ErrorKind, LeaderOptions, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

/// etcd's backend quota for the test: small, so that a few puts fill it.
const QUOTA_BYTES: usize = 16 << 20;

/// Puts 1 MiB values until etcd refuses one for lack of space.
async fn fill(raw: &mut etcd_client::Client) {
    let value = vec![b'v'; 1 << 20];
    for i in 0..4 * (QUOTA_BYTES >> 20) {
        if let Err(error) = raw.put(format!("/fill/{i}"), value.clone(), None).await {
            assert!(
                error.to_string().contains("database space exceeded"),
                "filling etcd failed otherwise: {error}"
            );
            return;
        }
    }
    panic!(
        "etcd took {} MiB without raising NOSPACE",
        4 * (QUOTA_BYTES >> 20)
    );
}

/// What an operator does: delete, compact, defragment, disarm.
async fn free(raw: &mut etcd_client::Client, cluster: &EtcdCluster) {
    let deleted = raw
        .delete(
            "/fill/",
            Some(etcd_client::DeleteOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    let revision = deleted.header().unwrap().revision();
    raw.compact(revision, None).await.unwrap();
    for args in [&["defrag"][..], &["alarm", "disarm"][..]] {
        let output = cluster.etcdctl(args).unwrap();
        assert!(output.status.success(), "etcdctl {args:?}: {output:?}");
    }
}

fn ttl() -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(10))
}

/// The TTL of the locks held before etcd fills up (their session's lease
/// must be renewed while it is full). Not shorter: filling etcd on a
/// loaded machine may stall its keepalives for a second or two.
const HELD_TTL: Duration = Duration::from_secs(5);

fn short() -> LockOptions {
    LockOptions::new().ttl(HELD_TTL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_etcd_is_named_at_once_and_a_waiting_lock_proceeds_once_freed() {
    let cluster = EtcdCluster::builder()
        .extra_args(["--quota-backend-bytes".to_string(), QUOTA_BYTES.to_string()])
        .start()
        .unwrap();
    let endpoint = cluster.endpoints()[0].clone();
    // A request timeout far above what the checks below allow: a refusal
    // retried for the whole timeout would fail them.
    let request_timeout = Duration::from_secs(30);
    let client = Client::etcd(
        Options::new()
            .nodes([endpoint.clone()])
            .prefix("/full")
            .request_timeout(request_timeout),
    )
    .await
    .unwrap();
    // Locks held before etcd fills up, on a lease of HELD_TTL.
    let held = client.lock("held", short()).await.unwrap();
    let busy = client.lock("busy", short()).await.unwrap();
    let mut raw = etcd_client::Client::connect([endpoint], None)
        .await
        .unwrap();
    fill(&mut raw).await;

    // Each write refused at once and named: a try_lock that needs a new
    // lease (grant refused), one on the held lock's session (key create
    // refused) and a candidacy.
    for (what, refused) in [
        (
            "try_lock, new lease",
            client.try_lock("x", ttl()).await.err(),
        ),
        (
            "try_lock, live session",
            client.try_lock("y", short()).await.err(),
        ),
        (
            "leader",
            client.leader("e", LeaderOptions::new()).await.err(),
        ),
    ] {
        let error = refused.unwrap_or_else(|| panic!("{what} succeeded on a full etcd"));
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{what}: {error}");
        assert!(
            error.message().contains("database space exceeded")
                && error.message().contains("etcdctl alarm disarm"),
            "{what}: {error}"
        );
    }
    let started = Instant::now();
    let _ = client.try_lock("x", ttl()).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took < request_timeout / 3,
        "try_lock took {took:?}: the refusal was retried"
    );

    // lock with a LockWait: a timeout that says why.
    let error = client
        .lock("x", ttl().wait(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::LockTimeout, "{error}");
    assert!(
        error.message().contains("database space exceeded"),
        "the timeout does not name the full etcd: {error}"
    );

    // The lock held before: kept alive past its TTL, and released.
    tokio::time::sleep(HELD_TTL + Duration::from_secs(1)).await;
    assert!(!held.is_lost(), "a full etcd lost a held lock");
    held.unlock().await.unwrap();

    // lock without a LockWait keeps trying, and gets the lock once an
    // operator has freed space.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.lock("x", ttl()).await }
    });
    // And one that, once etcd is freed, only waits behind a holder: its
    // timeout must not blame etcd for what was an earlier attempt's refusal.
    let busy_wait = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .lock("busy", short().wait(Duration::from_secs(10)))
                .await
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "lock returned on a full etcd");
    free(&mut raw, &cluster).await;
    let guard = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("lock still waiting 30 s after etcd was freed")
        .unwrap()
        .unwrap();
    guard.unlock().await.unwrap();
    let error = busy_wait.await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::LockTimeout, "{error}");
    assert!(
        !error.message().contains("etcd"),
        "a lock busy after etcd was freed blames etcd: {error}"
    );
    busy.unlock().await.unwrap();
    client.close().await;
}
