//! Two handles on one etcd: one whose requests pass through a
//! [`ClientProxy`] (so a test can stall, drop or swallow them) and one that
//! talks to etcd directly, to watch or compete with the first.

#![allow(dead_code, clippy::unwrap_used)]

use vinesync::{Client, LockOptions, Options};
use vinesync_testkit::{ClientProxy, EtcdCluster};

/// `(through the proxy, direct)`, both with `options` (their nodes set
/// here). The proxied handle's session for `ttl` is already started (a
/// lock "warm-up" taken and released), so the first request of its next
/// lock with that TTL is the lock's write.
pub async fn proxied_and_direct(
    cluster: &EtcdCluster,
    proxy: &ClientProxy,
    options: Options,
    ttl: LockOptions,
) -> (Client, Client) {
    let proxied = Client::etcd(options.clone().nodes([proxy.address.clone()]))
        .await
        .unwrap();
    let direct = Client::etcd(options.nodes(cluster.endpoints()))
        .await
        .unwrap();
    proxied
        .lock("warm-up", ttl)
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    (proxied, direct)
}
