//! `init` that moves a handle to another etcd cluster with the same prefix
//! (a rolling move between clusters): the locks it held on the first
//! cluster keep their keys there (SPEC L7: only `unlock` releases them),
//! and taking the same id on the second cluster does not replace or
//! release the first acquisition. `unlock(id)` releases the acquisition
//! on the current cluster first (also after `init` came back to a cluster
//! on a new connection), then the other one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use vinesync::{Client, ErrorKind, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

fn options(cluster: &EtcdCluster) -> Options {
    Options::new().prefix("/moving").nodes(cluster.endpoints())
}

/// Whether another handle on `cluster` finds lock `id` held.
async fn held_on(cluster: &EtcdCluster, id: &str) -> bool {
    let other = Client::etcd(options(cluster)).await.unwrap();
    let outcome = other.try_lock(id, LockOptions::new()).await;
    let held = match outcome {
        Ok(guard) => {
            guard.unlock().await.unwrap();
            false
        }
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::WouldBlock, "{error}");
            true
        }
    };
    other.close().await;
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_taken_again_after_init_to_another_cluster_keeps_the_first() {
    let first = EtcdCluster::start(1).expect("first etcd");
    let second = EtcdCluster::start(1).expect("second etcd");
    let ttl = LockOptions::new().ttl(Duration::from_secs(5));

    let client = Client::etcd(options(&first)).await.unwrap();
    // Held by the handle alone (vine's Lock): only `unlock(id)` ends it.
    client.lock("job", ttl).await.unwrap().detach();
    client.init(options(&second)).await.unwrap();
    client.lock("job", ttl).await.unwrap().detach();

    // Longer than the TTL: a dropped session would have let it expire.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        held_on(&first, "job").await,
        "the first cluster's lock was released"
    );
    assert!(held_on(&second, "job").await);

    // The current cluster's acquisition first, then the older one; back
    // on the first cluster (a new connection to it), its own is current.
    client.init(options(&first)).await.unwrap();
    client.unlock("job").await.unwrap();
    assert!(
        !held_on(&first, "job").await,
        "unlock released another cluster's lock"
    );
    assert!(held_on(&second, "job").await);
    client.unlock("job").await.unwrap();
    assert!(!held_on(&second, "job").await);
    let again = client.unlock("job").await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotLocked);
    client.close().await;
}
