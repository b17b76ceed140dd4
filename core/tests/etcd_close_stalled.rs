//! Closing a handle while etcd answers nothing (a stalled member, a
//! partition TCP does not notice) is bounded: its leases are revoked all at
//! once, so the close waits out the request timeout once, not once per
//! lease (one per TTL used). The leases it could not revoke expire.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use vinesync::{Client, LockOptions, Options};
use vinesync_testkit::{ClientProxy, EtcdCluster, ProxyMode};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_with_etcd_stalled_waits_one_request_timeout_for_all_leases() {
    let cluster = EtcdCluster::start(1).unwrap();
    let proxy = ClientProxy::start(cluster.endpoint(0)).unwrap();
    let client = Client::etcd(
        Options::new()
            .prefix("/close-stalled")
            .nodes([proxy.address.clone()])
            .request_timeout(REQUEST_TIMEOUT),
    )
    .await
    .unwrap();
    // Four TTLs: four sessions, four leases to revoke.
    for (i, ttl) in [10u64, 11, 12, 13].into_iter().enumerate() {
        let options = LockOptions::new().ttl(Duration::from_secs(ttl));
        client
            .lock(&format!("l{i}"), options)
            .await
            .unwrap()
            .detach();
    }
    proxy.set(ProxyMode::Stall);
    let started = Instant::now();
    client.close().await;
    let took = started.elapsed();
    // One request timeout and some slack; one after the other they took
    // four.
    assert!(
        took < REQUEST_TIMEOUT * 5 / 2,
        "close with etcd stalled took {took:?} for 4 leases (request timeout {REQUEST_TIMEOUT:?})"
    );
    proxy.set(ProxyMode::Pass);
}
