//! A member of a 3-member cluster that stops answering (SIGSTOP: its
//! connections stay open) leaves the handle's rotation once its probes go
//! unanswered (`core/src/etcd/health.rs`): from then on no call waits out
//! the request timeout on it. Without the probes about one call in six
//! did, for as long as the member stayed stalled. (A request already in
//! flight on the member when it stalls still waits out its timeout.)
//! Each member is stalled in turn: the last one can be taken out only if
//! the first two came back into the rotation when they answered again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use vinesync::{Client, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

/// Long, so a call that waits it out cannot pass for a slow one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// What a call may take with a stalled member out of the rotation.
const CALL_LIMIT: Duration = Duration::from_secs(5);
/// Two unanswered probes (one a second, a second each) and some slack.
const OUT_OF_ROTATION_AFTER: Duration = Duration::from_secs(6);

/// Runs `n` lock+unlocks, each within [`CALL_LIMIT`].
async fn lock_unlock(client: &Client, n: usize, stalled: usize) {
    let options = LockOptions::new().ttl(Duration::from_secs(30));
    for i in 0..n {
        let started = Instant::now();
        let call = async { client.lock("stall", options).await?.unlock().await };
        match tokio::time::timeout(CALL_LIMIT, call).await {
            Ok(done) => done.unwrap(),
            Err(_) => panic!(
                "with member {stalled} stalled, lock+unlock {i} took more than {:?} \
                 (request timeout {REQUEST_TIMEOUT:?})",
                started.elapsed()
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_member_leaves_the_rotation_and_comes_back() {
    let mut cluster = EtcdCluster::start(3).unwrap();
    let client = Client::etcd(
        Options::new()
            .prefix("/stalled-member")
            .nodes(cluster.endpoints())
            .request_timeout(REQUEST_TIMEOUT),
    )
    .await
    .unwrap();
    lock_unlock(&client, 3, usize::MAX).await;
    for stalled in [0, 1, 2] {
        cluster.pause_member(stalled).unwrap();
        tokio::time::sleep(OUT_OF_ROTATION_AFTER).await;
        // Enough calls that the balancer would have picked the member.
        lock_unlock(&client, 30, stalled).await;
        cluster.resume_member(stalled).unwrap();
        // Back in rotation at its first answer (probes every second).
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    client.close().await;
}
