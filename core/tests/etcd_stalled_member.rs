//! A member of a 3-member cluster that stops answering (SIGSTOP: its
//! connections stay open) leaves the handle's rotation once its probes go
//! unanswered (`core/src/etcd/health.rs`): from then on no call waits out
//! the request timeout on it. Without the probes about one call in six
//! did, for as long as the member stayed stalled. Each member is stalled in
//! turn: the last one can be taken out only if the first two came back into
//! the rotation when they answered again.
//!
//! What was already waiting on the member when it stalled (a request, a
//! waiter's watch, a lease's keepalive stream) is sent or opened again on
//! another member when it leaves the rotation, instead of waiting out the
//! request timeout or the HTTP/2 ping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// What a call in flight when the member stalls may take: the member
/// leaves the rotation within about 4 s (two probes a second apart, a
/// second each), far below [`REQUEST_TIMEOUT`] and the HTTP/2 ping (15 s).
const IN_FLIGHT_LIMIT: Duration = Duration::from_secs(8);

/// Locks and unlocks `id` until `stop`, each call within
/// [`IN_FLIGHT_LIMIT`]; the lock must never be lost (its lease is kept
/// alive through the stall). `ttl` in seconds: a lease (and a keepalive
/// stream) per worker.
async fn work(client: Client, id: &'static str, ttl: u64, stop: Arc<AtomicBool>, stalled: usize) {
    let options = LockOptions::new().ttl(Duration::from_secs(ttl));
    let mut i = 0;
    while !stop.load(Ordering::Acquire) {
        let started = Instant::now();
        let guard = match tokio::time::timeout(IN_FLIGHT_LIMIT, client.lock(id, options)).await {
            Ok(locked) => locked.unwrap(),
            Err(_) => too_slow(id, "lock", i, stalled, started),
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !guard.is_known_lost(),
            "{id}: lock {i} lost during the stall"
        );
        let started = Instant::now();
        match tokio::time::timeout(IN_FLIGHT_LIMIT, guard.unlock()).await {
            Ok(unlocked) => unlocked.unwrap_or_else(|e| panic!("{id}: unlock {i}: {e}")),
            Err(_) => too_slow(id, "unlock", i, stalled, started),
        }
        i += 1;
    }
}

/// What a handover to a waiter queued before the stall may take once the
/// member is out of the rotation (milliseconds when it works).
const HANDOVER_LIMIT: Duration = Duration::from_secs(2);

fn too_slow(id: &str, what: &str, i: usize, stalled: usize, started: Instant) -> ! {
    panic!(
        "{id}: {what} {i} took more than {:?} with member {stalled} stalling \
         (request timeout {REQUEST_TIMEOUT:?})",
        started.elapsed()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_waiting_on_a_member_that_stalls_go_elsewhere_once_it_leaves() {
    let mut cluster = EtcdCluster::start(3).unwrap();
    let client = Client::etcd(
        Options::new()
            .prefix("/stalled-in-flight")
            .nodes(cluster.endpoints())
            .request_timeout(REQUEST_TIMEOUT),
    )
    .await
    .unwrap();
    // Distinct ids (requests), and two workers on one id (a waiter's
    // watch); six leases, so some keepalive stream is on each member.
    // Each round adds `10 * round` to the TTLs: a session retired in one
    // round is never replaced by a later session of its TTL, so only its
    // own end can take a key its late write left.
    let workers = [
        ("a", 10),
        ("b", 11),
        ("c", 12),
        ("d", 13),
        ("shared", 14),
        ("shared", 15),
    ];
    // Locks held through the stall, a waiter queued behind each: its
    // watch, opened before the stall, must see the release.
    let queued = ["q1", "q2", "q3", "q4"];
    for stalled in [0, 1, 2] {
        let later = 10 * stalled as u64;
        let options = LockOptions::new().ttl(Duration::from_secs(16 + later));
        let stop = Arc::new(AtomicBool::new(false));
        let running: Vec<_> = workers
            .iter()
            .map(|&(id, ttl)| {
                let worker = work(client.clone(), id, ttl + later, stop.clone(), stalled);
                tokio::spawn(worker)
            })
            .collect();
        let mut holders = Vec::new();
        for id in queued {
            holders.push(client.lock(id, options).await.unwrap());
        }
        let waiters: Vec<_> = queued
            .iter()
            .map(|&id| {
                let client = client.clone();
                tokio::spawn(async move { client.lock(id, options).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        cluster.pause_member(stalled).unwrap();
        // Out of the rotation by now; the waiters' watches may not have
        // noticed the stall yet (the HTTP/2 ping takes 5 to 15 s).
        tokio::time::sleep(Duration::from_secs(5)).await;
        for holder in holders {
            let started = Instant::now();
            match tokio::time::timeout(IN_FLIGHT_LIMIT, holder.unlock()).await {
                Ok(unlocked) => unlocked.unwrap(),
                Err(_) => too_slow("queued", "unlock", 0, stalled, started),
            }
        }
        let handed_over =
            tokio::time::timeout(HANDOVER_LIMIT, futures_util::future::join_all(waiters))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "with member {stalled} stalled, a waiter queued before the stall did not \
                 get its lock within {HANDOVER_LIMIT:?} of its release"
                    )
                });
        for waiter in handed_over {
            waiter.unwrap().unwrap().unlock().await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        cluster.resume_member(stalled).unwrap();
        // Back in rotation at its first answer (probes every second).
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::Release);
        for worker in running {
            if let Err(failed) = worker.await {
                std::panic::resume_unwind(failed.into_panic());
            }
        }
    }
    // Calls on a TTL never used again, in flight as member 0 stalls: the
    // sessions retired by their resent creates are not replaced by later
    // ones of that TTL, and must end by themselves.
    let once = LockOptions::new().ttl(Duration::from_secs(50));
    // Its lease granted first: a grant stuck on member 0 would hold every
    // call back until member 0 is out, and none would then be on it.
    client
        .lock("once", once)
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    cluster.pause_member(0).unwrap();
    let calls = (0..30).map(|i| {
        let client = client.clone();
        async move {
            let id = format!("once{i}");
            client.lock(&id, once).await?.unlock().await
        }
    });
    let done = tokio::time::timeout(IN_FLIGHT_LIMIT, futures_util::future::join_all(calls))
        .await
        .expect("calls in flight as member 0 stalled took more than 8 s");
    for call in done {
        call.unwrap();
    }
    cluster.resume_member(0).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Every lock released, the handle's leases still alive: no key is left
    // (a create sent twice, whose first send landed after the release,
    // would leave one that nobody holds; its session's lease, revoked
    // once unused, takes it).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = client.locks().await.unwrap();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "keys left behind: {left:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.close().await;
}
