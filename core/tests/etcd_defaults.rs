//! SPEC H7 on an etcd started with its default settings (whatever version
//! `VINESYNC_ETCD_DIR` selects): the client respects the server's gRPC
//! keepalive policy (no connection churn) and reads back the granted lease
//! TTL (a TTL etcd would raise is refused, never silently changed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use vinesync::{Client, ErrorKind, LeaderOptions, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

/// A loopback TCP proxy in front of `upstream` that counts the connections
/// it accepts: every reconnect of the client shows up here.
async fn counting_proxy(upstream: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (address, accepted)
}

/// H7: an idle handle holding a lock and a candidacy with the default TTL
/// of 60 s (a keepalive every 20 s, the lost monitor's watch) and watching
/// an election for 30 s is never disconnected by etcd's default
/// keepalive enforcement (`--grpc-keepalive-min-time` 5 s): one connection,
/// no lost signal. With pings every 2 s (the old setting) etcd closed the
/// connection within seconds ("too many pings").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h7_idle_holder_sees_no_reconnect_for_30s_on_default_etcd() {
    let cluster = EtcdCluster::builder().default_settings().start().unwrap();
    let (proxy, accepted) = counting_proxy(cluster.endpoint(0)).await;
    let client = Client::etcd(Options::new().prefix("/h7/idle").nodes([proxy]))
        .await
        .unwrap();
    let guard = client
        .lock("idle", LockOptions::new().ttl(Duration::from_secs(60)))
        .await
        .unwrap();
    let lost = guard.lost_signal();
    let leader = client
        .leader(
            "svc",
            LeaderOptions::new()
                .namespace("idle")
                .ttl(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    leader.wait_elected().await.unwrap();
    let watcher = client
        .watch_elect(vinesync::WatchOptions::new().namespace("other"))
        .await
        .unwrap();
    let connections_before = accepted.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let connections = accepted.load(Ordering::SeqCst);
    assert!(!*lost.borrow(), "the held lock was reported lost");
    assert!(leader.is_primary(), "the primary lost its role");
    assert_eq!(
        connections,
        connections_before,
        "the client reconnected {} times in 30 s while idle",
        connections - connections_before
    );
    drop(watcher);
    guard.unlock().await.unwrap();
    leader.resign().await.unwrap();
    client.close().await;
}

/// H7: etcd with default settings grants at least 2 s (1.5 election
/// timeouts); a 1 s TTL is refused with `InvalidArgument` naming the
/// minimum, for locks and candidacies, and leaves no lease behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h7_ttl_below_the_servers_minimum_is_refused_not_raised() {
    let cluster = EtcdCluster::builder().default_settings().start().unwrap();
    let client = Client::etcd(Options::new().prefix("/h7/ttl").nodes(cluster.endpoints()))
        .await
        .unwrap();
    let err = client
        .lock("x", LockOptions::new().ttl(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("minimum lease TTL of 2s"), "{err}");
    let err = client
        .leader("svc", LeaderOptions::new().ttl(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    // A TTL at the minimum works.
    let guard = client
        .lock("x", LockOptions::new().ttl(Duration::from_secs(2)))
        .await
        .unwrap();
    guard.unlock().await.unwrap();
    client.close().await;
    let leases = cluster.etcdctl(&["lease", "list"]).unwrap();
    let listed = String::from_utf8_lossy(&leases.stdout);
    assert!(listed.contains("found 0 leases"), "{listed}");
}
