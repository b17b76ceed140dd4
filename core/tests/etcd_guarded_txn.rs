//! `LockGuard::txn` (the etcd transaction guarded by the lock key's create
//! revision, like Go's `Mutex.IsOwner()`): a stale holder's conditional
//! write is refused by etcd, the current holder's goes through.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use vinesync::etcd_client::TxnOp;
use vinesync::{Client, ErrorKind, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

fn ttl(s: u64) -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_holders_guarded_write_is_refused_by_etcd() {
    let cluster = EtcdCluster::start(1).unwrap();
    let options = Options::new().prefix("/txn").nodes(cluster.endpoints());
    let a = Client::etcd(options.clone()).await.unwrap();
    let b = Client::etcd(options.clone()).await.unwrap();
    let stale = a.lock("jobs", ttl(1)).await.unwrap();
    stale
        .txn(vec![TxnOp::put("/data/jobs", "from-a-1", None)])
        .await
        .expect("the holder writes");
    // A pauses (no keepalives) past its TTL; B takes the lock.
    a.faults().suspend_keepalive(true);
    let current = b
        .lock("jobs", ttl(10).wait(Duration::from_secs(10)))
        .await
        .unwrap();
    let err = stale
        .txn(vec![TxnOp::put("/data/jobs", "from-a-2", None)])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Lost, "{err}");
    current
        .txn(vec![TxnOp::put("/data/jobs", "from-b", None)])
        .await
        .expect("the current holder writes");
    let value = cluster
        .etcdctl(&["get", "/data/jobs", "--print-value-only"])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&value.stdout).trim(), "from-b");
    current.unlock().await.unwrap();
    drop(stale);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_txn_on_memory_is_an_invalid_argument() {
    let s = Client::memory(Options::new().prefix("/txn/memory")).unwrap();
    let guard = s.lock("jobs", ttl(10)).await.unwrap();
    let err = guard.txn(vec![]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    guard.unlock().await.unwrap();
}
