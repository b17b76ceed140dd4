//! A member of a 3-member cluster that stops answering (SIGSTOP: its
//! connections stay open) leaves the handle's rotation once its probes go
//! unanswered (`core/src/etcd/health.rs`): from then on no call waits out
//! the request timeout on it. Without the probes about one call in six
//! did, for as long as the member stayed stalled. (A request already in
//! flight on the member when it stalls still waits out its timeout.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use vinesync::{Client, LockOptions, Options};
use vinesync_testkit::EtcdCluster;

/// Long, so a call that waits it out cannot pass for a slow one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Two unanswered probes (one a second, a second each) and some slack.
const OUT_OF_ROTATION_AFTER: Duration = Duration::from_secs(6);

/// Runs `n` lock+unlocks; the longest one.
async fn slowest_of(client: &Client, n: usize) -> Duration {
    let options = LockOptions::new().ttl(Duration::from_secs(30));
    let mut slowest = Duration::ZERO;
    for _ in 0..n {
        let started = Instant::now();
        client
            .lock("stall", options)
            .await
            .unwrap()
            .unlock()
            .await
            .unwrap();
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_member_leaves_the_rotation() {
    let mut cluster = EtcdCluster::start(3).unwrap();
    let client = Client::etcd(
        Options::new()
            .prefix("/stalled-member")
            .nodes(cluster.endpoints())
            .request_timeout(REQUEST_TIMEOUT),
    )
    .await
    .unwrap();
    slowest_of(&client, 3).await;
    // One member, then another once the first answers again (a second
    // member taken out while the first still were would leave one).
    for stalled in [0, 1] {
        cluster.pause_member(stalled).unwrap();
        tokio::time::sleep(OUT_OF_ROTATION_AFTER).await;
        // Enough calls that the balancer would have picked the member.
        let slowest = slowest_of(&client, 30).await;
        cluster.resume_member(stalled).unwrap();
        assert!(
            slowest < REQUEST_TIMEOUT / 4,
            "with member {stalled} stalled a lock+unlock took {slowest:?} \
             (request timeout {REQUEST_TIMEOUT:?})"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    client.close().await;
}
