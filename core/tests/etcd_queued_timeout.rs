//! SPEC §6: a `LockWait` that passes while the lock is queued behind a
//! holder is busy, and says only that — unless etcd stopped answering the
//! waiter meanwhile. Then the `LockTimeout` names it (the waiter's lease
//! keepalives went unanswered), whether etcd refuses the connection or
//! keeps it open and answers nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use vinesync::{Client, ErrorKind, LockOptions, Options};
use vinesync_testkit::{ClientProxy, EtcdCluster, ProxyMode};

mod proxied;

/// Long enough that its first keepalive after the fault (within a third
/// of it) and the lease's local deadline after that bracket `WAIT`.
const TTL: Duration = Duration::from_secs(15);
const WAIT: Duration = Duration::from_secs(8);

/// A waiter (through `proxy`) queued on lock "x" behind a holder that
/// talks to `cluster` directly: both handles, the holder's guard and the
/// waiter's `lock` (with [`WAIT`]) still running.
struct Queued {
    waiter: Client,
    holder: Client,
    held: vinesync::LockGuard,
    waiting: tokio::task::JoinHandle<vinesync::Result<vinesync::LockGuard>>,
}

async fn queue_behind_a_holder(cluster: &EtcdCluster, proxy: &ClientProxy) -> Queued {
    let ttl = LockOptions::new().ttl(TTL);
    let options = Options::new().prefix("/queued-timeout");
    let (waiter, holder) = proxied::proxied_and_direct(cluster, proxy, options, ttl).await;
    let held = holder.lock("x", ttl).await.unwrap();
    let waiting = {
        let waiter = waiter.clone();
        tokio::spawn(async move { waiter.lock("x", ttl.wait(WAIT)).await })
    };
    // Queued: the waiter's key is written (the holder's handle sees two).
    let queued_by = Instant::now() + Duration::from_secs(5);
    while holder.lock_info("x").await.unwrap().waiters.is_empty() {
        assert!(Instant::now() < queued_by, "the waiter never queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Queued {
        waiter,
        holder,
        held,
        waiting,
    }
}

impl Queued {
    /// The message of the waiter's `LockTimeout`.
    async fn timeout_message(&mut self) -> String {
        let error = (&mut self.waiting).await.unwrap().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::LockTimeout, "{error}");
        error.message().to_string()
    }

    /// Releases the holder's lock and closes both handles.
    async fn finish(self) {
        self.held.unlock().await.unwrap();
        self.holder.close().await;
        self.waiter.close().await;
    }
}

/// The message of a `lock` that queued behind a holder, then saw etcd go
/// into `mode` for the rest of its wait.
async fn queued_timeout_message(mode: ProxyMode) -> String {
    let cluster = EtcdCluster::start(1).unwrap();
    let proxy = ClientProxy::start(cluster.endpoint(0)).unwrap();
    let mut queued = queue_behind_a_holder(&cluster, &proxy).await;
    proxy.set(mode);
    let message = queued.timeout_message().await;
    proxy.set(ProxyMode::Pass);
    queued.finish().await;
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_lock_timeout_names_an_etcd_that_stalled() {
    let message = queued_timeout_message(ProxyMode::Stall).await;
    assert!(
        message.contains("it was queued, but etcd") && message.contains("its lease's keepalive"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_lock_timeout_names_an_etcd_that_went_away() {
    let message = queued_timeout_message(ProxyMode::Drop).await;
    assert!(
        message.contains("it was queued, but etcd answered none of its lease's keepalives")
            && message.contains("the last failed:"),
        "{message}"
    );
}

/// The keepalives named are those of the session the queued lock waits on:
/// after `init` moved the handle to another connection, a stall of that
/// new connection (and of the session a later lock started on it) is not
/// blamed for the wait of a lock queued on the old one, which etcd kept
/// answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_lock_timeout_blames_only_its_own_session() {
    let cluster = EtcdCluster::start(1).unwrap();
    let (old, new) = (
        ClientProxy::start(cluster.endpoint(0)).unwrap(),
        ClientProxy::start(cluster.endpoint(0)).unwrap(),
    );
    let mut queued = queue_behind_a_holder(&cluster, &old).await;
    let moved = Options::new()
        .prefix("/queued-timeout")
        .nodes([new.address.clone()]);
    queued.waiter.init(moved).await.unwrap();
    // A session on `new`, whose keepalives the stall below cuts.
    let ttl = LockOptions::new().ttl(TTL);
    queued.waiter.lock("y", ttl).await.unwrap().detach();
    new.set(ProxyMode::Stall);
    assert_eq!(
        queued.timeout_message().await,
        format!("lock timeout: lock \"x\" not acquired within {WAIT:?}"),
        "the stall of another session's connection was blamed"
    );
    new.set(ProxyMode::Pass);
    queued.finish().await;
}
