//! A write whose answer is lost on the way back (SPEC H3, "a write that was
//! sent and whose answer did not arrive may have happened"): etcd applied
//! the lock's create, the connection broke before its answer arrived, and
//! the client sent the same create again. The resend finds the key its
//! first send wrote; the lock adopts it (its first send's create revision
//! is the fencing token) instead of failing with "already exists" or
//! leaving the key behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use vinesync::{Client, LockOptions, Options};
use vinesync_testkit::{ClientProxy, EtcdCluster, ProxyMode};

mod proxied;

fn ttl(seconds: u64) -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(seconds))
}

/// A client whose requests go through a [`ClientProxy`], an observer
/// that talks to etcd directly, and the etcd they share.
struct Setup {
    proxy: ClientProxy,
    client: Client,
    observer: Client,
    // Dropped last (fields drop in order): the tests close the clients.
    _cluster: EtcdCluster,
}

async fn setup() -> Setup {
    let cluster = EtcdCluster::start(1).unwrap();
    let proxy = ClientProxy::start(cluster.endpoint(0)).unwrap();
    let options = Options::new()
        .prefix("/lost-answer")
        .request_timeout(Duration::from_secs(10));
    // The session's lease is granted first, so the next request of a lock
    // is its create.
    let (client, observer) = proxied::proxied_and_direct(&cluster, &proxy, options, ttl(30)).await;
    Setup {
        proxy,
        client,
        observer,
        _cluster: cluster,
    }
}

/// Starts `client.lock(id)` with etcd's answers swallowed, waits until its
/// create has reached etcd (a key of the client's lease under the lock),
/// then cuts the connection so the client sends the create again. Returns
/// the lock's task and the key the first send wrote.
async fn lock_losing_the_create_answer(
    setup: &Setup,
    id: &str,
) -> (
    tokio::task::JoinHandle<vinesync::Result<vinesync::LockGuard>>,
    vinesync::LockEntry,
) {
    let lease = setup.client.faults().lease_ids().await[0];
    setup.proxy.set(ProxyMode::SwallowAnswers);
    let locking = {
        let (client, id) = (setup.client.clone(), id.to_string());
        tokio::spawn(async move { client.lock(&id, ttl(30)).await })
    };
    let started = Instant::now();
    let first_send = loop {
        let info = setup.observer.lock_info(id).await.unwrap();
        let mut entries = info.holder.into_iter().chain(info.waiters);
        if let Some(ours) = entries.find(|entry| entry.lease == lease) {
            break ours;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the create never reached etcd"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Cut first: an answer still on its way is then lost too, never
    // passed on (the client must send again).
    setup.proxy.set(ProxyMode::Drop);
    setup.proxy.set(ProxyMode::Pass);
    (locking, first_send)
}

async fn finished(
    locking: tokio::task::JoinHandle<vinesync::Result<vinesync::LockGuard>>,
) -> vinesync::LockGuard {
    tokio::time::timeout(Duration::from_secs(20), locking)
        .await
        .expect("the lock did not finish after its connection was cut")
        .unwrap()
        .expect("the resent create must adopt the key its first send wrote")
}

/// On a free lock: the adopted key holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_adopts_its_own_create_whose_answer_was_lost() {
    let setup = setup().await;
    let (locking, first_send) = lock_losing_the_create_answer(&setup, "free").await;
    let guard = finished(locking).await;
    assert_eq!(guard.key(), first_send.key);
    assert_eq!(guard.fencing_token(), first_send.fencing_token);
    let info = setup.observer.lock_info("free").await.unwrap();
    assert_eq!(info.holder.map(|h| h.key), Some(first_send.key.clone()));
    assert!(
        info.waiters.is_empty(),
        "a second key was written: {:?}",
        info.waiters
    );

    guard.unlock().await.unwrap();
    assert!(setup
        .observer
        .lock_info("free")
        .await
        .unwrap()
        .holder
        .is_none());
    // The create was sent twice: its name is not written again (a clean
    // release with one send each would give it to the next lock).
    let next = setup.client.lock("free", ttl(30)).await.unwrap();
    assert_ne!(next.key(), first_send.key, "the create was not resent");
    next.unlock().await.unwrap();
    setup
        .observer
        .try_lock("free", ttl(30))
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    setup.client.close().await;
    setup.observer.close().await;
}

/// Behind a holder: the adopted key waits in its place and takes the lock
/// at the handoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_adopts_its_own_create_whose_answer_was_lost() {
    let setup = setup().await;
    let holder = setup.observer.lock("busy", ttl(30)).await.unwrap();
    let (locking, first_send) = lock_losing_the_create_answer(&setup, "busy").await;
    // Still waiting, with the one key its first send wrote.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!locking.is_finished(), "the waiter took a held lock");
    let info = setup.observer.lock_info("busy").await.unwrap();
    let waiting: Vec<&str> = info.waiters.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(waiting, [first_send.key.as_str()]);

    holder.unlock().await.unwrap();
    let guard = finished(locking).await;
    assert_eq!(guard.key(), first_send.key);
    assert_eq!(guard.fencing_token(), first_send.fencing_token);
    guard.unlock().await.unwrap();
    let info = setup.observer.lock_info("busy").await.unwrap();
    assert!(info.holder.is_none() && info.waiters.is_empty());
    setup.client.close().await;
    setup.observer.close().await;
}
