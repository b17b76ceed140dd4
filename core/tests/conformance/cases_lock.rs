//! Lock rules L1–L10.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vinesync::{ErrorKind, LockOptions};

use super::{eventually, ttl, Env};

const SECOND: Duration = Duration::from_secs(1);

/// L1: 200 tasks on 4 handles contend for one lock; never two inside at
/// once, and every task gets the lock exactly once.
pub async fn l1_exclusion_200_tasks_each_once(env: Env) {
    const TASKS: usize = 200;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(env.client().await);
    }
    let inside = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let got = Arc::new(Mutex::new(vec![0usize; TASKS]));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let client = clients[i % clients.len()].clone();
        let (inside, overlaps, got) = (inside.clone(), overlaps.clone(), got.clone());
        tasks.push(tokio::spawn(async move {
            let guard = client.lock("counter", ttl(30)).await.expect("lock");
            if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            tokio::task::yield_now().await;
            got.lock().unwrap()[i] += 1;
            inside.fetch_sub(1, Ordering::SeqCst);
            guard.unlock().await.expect("unlock");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "two holders at once");
    let got = got.lock().unwrap();
    assert!(
        got.iter().all(|&n| n == 1),
        "each task exactly once: {got:?}"
    );
    assert_eq!(got.iter().sum::<usize>(), TASKS);
}

/// L1: while one handle holds, no other handle can take the lock.
pub async fn l1_exclusion_across_handles_try_lock(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let c = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    for other in [&b, &c] {
        let err = other.try_lock("x", ttl(10)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
    }
    guard.unlock().await.unwrap();
    let g = b.try_lock("x", ttl(10)).await.unwrap();
    assert_eq!(
        c.try_lock("x", ttl(10)).await.unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    g.unlock().await.unwrap();
}

/// L2: `lock` blocks while another holds and returns once it is released.
pub async fn l2_lock_blocks_until_unlock(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let waiter = tokio::spawn(async move { b.lock("x", ttl(10)).await });
    wait_keys(&env, &a, "x", 2).await; // b waits in the queue
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "lock returned while held elsewhere");
    guard.unlock().await.unwrap();
    tokio::time::timeout(5 * SECOND, waiter)
        .await
        .expect("waiter not woken")
        .unwrap()
        .unwrap()
        .unlock()
        .await
        .unwrap();
}

/// L2/L10 (Rust conventions): a zero `wait` tries once — `LockTimeout` at
/// once when the lock is held, leaving no key; the lock when it is free.
/// Without `wait` there is no limit.
pub async fn l2_zero_wait_tries_once(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let started = Instant::now();
    let err = b.lock("x", ttl(10).wait(Duration::ZERO)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LockTimeout, "{err}");
    // At once: half the 10 s TTL at most (the bound also covers b's first
    // lease grant, slow on a loaded machine).
    assert!(
        started.elapsed() < 5 * SECOND,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(env.lock_keys(&a, "x").await.len(), 1, "the try left a key");
    guard.unlock().await.unwrap();
    let g = b.lock("x", ttl(10).wait(Duration::ZERO)).await.unwrap();
    g.unlock().await.unwrap();
}

/// Waits until lock `id` has `n` keys (holder + waiters).
async fn wait_keys(env: &Env, client: &vinesync::Client, id: &str, n: usize) {
    let ok = eventually(20 * SECOND, || async {
        env.lock_keys(client, id).await.len() == n
    })
    .await;
    assert!(ok, "expected {n} keys for lock {id}");
}

/// L2: waiters are served in arrival order.
pub async fn l2_waiters_served_in_arrival_order(env: Env) {
    let holder = env.client().await;
    let guard = holder.lock("fifo", ttl(10)).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let client = env.client().await;
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let g = client.lock("fifo", ttl(10)).await.unwrap();
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(20)).await;
            g.unlock().await.unwrap();
        }));
        wait_keys(&env, &holder, "fifo", i + 2).await;
    }
    guard.unlock().await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

/// L2: `LockWait` running out gives `LockTimeout` ("lock timeout").
pub async fn l2_lock_wait_gives_lock_timeout(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let started = Instant::now();
    let err = b
        .lock("x", ttl(10).wait(Duration::from_millis(400)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LockTimeout);
    assert!(err.message().starts_with("lock timeout"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    guard.unlock().await.unwrap();
}

/// L2: a handoff wakes only the next waiter; the others make no store
/// reads (each waiter watches its predecessor, not the holder).
pub async fn l2_waiter_watches_only_its_predecessor(env: Env) {
    let holder = env.client().await;
    let guard = holder.lock("herd", ttl(10)).await.unwrap();
    let mut waiters = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..5 {
        let client = env.client().await;
        waiters.push(client.clone());
        tasks.push(tokio::spawn(async move {
            client.lock("herd", ttl(10)).await.map(|g| g.detach())
        }));
        wait_keys(&env, &holder, "herd", i + 2).await;
    }
    // Every waiter has finished setting up its wait (watch + re-read).
    let before = super::reads_settled(&waiters).await;
    guard.unlock().await.unwrap();
    tokio::time::timeout(5 * SECOND, &mut tasks[0])
        .await
        .expect("first waiter not woken")
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: Vec<u64> = waiters.iter().map(|w| w.faults().store_reads()).collect();
    assert!(after[0] > before[0], "the next waiter must have been woken");
    for i in 1..waiters.len() {
        assert_eq!(
            before[i], after[i],
            "waiter {i} was woken by a handoff not its own"
        );
        assert!(!tasks[i].is_finished());
    }
    for (i, w) in waiters.iter().enumerate() {
        // Release in order so every waiter finishes.
        w.unlock("herd").await.unwrap();
        if i + 1 < tasks.len() {
            tokio::time::timeout(5 * SECOND, &mut tasks[i + 1])
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
    }
}

/// L3: the seed's example. One handle takes lock1; a second task on the
/// same handle waits for it (not reentrant); `unlock` by id from the
/// first task hands it over.
pub async fn l3_seed_example_second_lock_on_same_handle_waits(env: Env) {
    let s = env.client().await;
    s.lock("lock1", ttl(3)).await.unwrap().detach();
    let s2 = s.clone();
    let second = tokio::spawn(async move { s2.lock("lock1", ttl(3)).await.map(|g| g.detach()) });
    wait_keys(&env, &s, "lock1", 2).await; // the second lock waits in the queue
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !second.is_finished(),
        "a second lock on the same handle must wait"
    );
    s.unlock("lock1").await.unwrap();
    tokio::time::timeout(5 * SECOND, second)
        .await
        .expect("second lock not granted")
        .unwrap()
        .unwrap();
    s.unlock("lock1").await.unwrap();
}

/// L3: the lock belongs to the handle: any task may unlock it, and
/// `unlock` leaves the handle's still-waiting acquisitions alone.
pub async fn l3_unlock_from_another_task_and_waiting_untouched(env: Env) {
    let s = env.client().await;
    let guard = s.lock("x", ttl(10)).await.unwrap();
    let token = guard.fencing_token();
    let s2 = s.clone();
    let waiting = tokio::spawn(async move { s2.lock("x", ttl(10)).await });
    wait_keys(&env, &s, "x", 2).await;
    let s3 = s.clone();
    tokio::spawn(async move { s3.unlock("x").await })
        .await
        .unwrap()
        .unwrap();
    // The guard's acquisition is released; the waiting one now holds.
    let second = tokio::time::timeout(5 * SECOND, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(second.fencing_token() > token);
    assert_eq!(
        guard.unlock().await.unwrap_err().kind(),
        ErrorKind::NotLocked
    );
    assert_eq!(
        env.lock_keys(&s, "x").await.len(),
        1,
        "the waiter's key is the holder now"
    );
    second.unlock().await.unwrap();
}

/// L4: the holder keeps its lease alive: a 2 s TTL lock is still held
/// after 4.5 s.
pub async fn l4_keepalive_holds_lock_beyond_ttl(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    // A 2 s lease held for 4.5 s: two TTLs and more, and a renewal may
    // come late by most of a second on a loaded machine without a loss.
    let guard = a.lock("x", ttl(2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert!(!guard.is_lost());
    assert_eq!(
        b.try_lock("x", ttl(1)).await.unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    guard.unlock().await.unwrap();
}

/// L4: a handle keeps one lease per TTL, but not one for every TTL it
/// ever used: past 64 that nothing uses, the oldest end (their leases
/// revoked). The ones in use are kept, and a program that cycles through
/// a few TTLs keeps reusing their leases (no grant per lock).
pub async fn l4_unused_sessions_of_other_ttls_are_bounded(env: Env) {
    let a = env.client().await;
    let held = a.lock("held", ttl(10)).await.unwrap();
    let cycle = |a: vinesync::Client| async move {
        for seconds in 11..=19 {
            let g = a.lock("x", ttl(seconds)).await.unwrap();
            g.unlock().await.unwrap();
        }
        let mut leases = a.faults().lease_ids().await;
        leases.sort_unstable();
        leases
    };
    let first = cycle(a.clone()).await;
    assert_eq!(first.len(), 10, "one lease per TTL used");
    assert_eq!(
        cycle(a.clone()).await,
        first,
        "a lease granted again for a TTL in use"
    );
    for seconds in 20..100 {
        let g = a.lock("x", ttl(seconds)).await.unwrap();
        g.unlock().await.unwrap();
    }
    let leases = a.faults().lease_ids().await;
    // 64 unused, the last one started (unused only since), the held one;
    // one more if a keepalive held its session just as the oldest went.
    assert!(
        (66..=67).contains(&leases.len()),
        "{} leases after 90 TTLs: unused ones kept beyond 64",
        leases.len()
    );
    assert!(!held.is_lost());
    held.unlock().await.unwrap();
}

/// L4: a holder that dies (no keepalives, no release) frees the lock once
/// its TTL has passed.
pub async fn l4_crashed_holder_frees_lock_after_ttl(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    a.lock("x", ttl(1)).await.unwrap().detach();
    a.faults().crash().await;
    let started = Instant::now();
    let g = b
        .lock("x", ttl(10).wait(10 * SECOND))
        .await
        .expect("lock not freed after the holder's TTL");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "freed before its TTL"
    );
    g.unlock().await.unwrap();
}

/// L5: every acquisition's fencing token is greater than all earlier ones.
pub async fn l5_fencing_tokens_strictly_increase(env: Env) {
    let clients = [env.client().await, env.client().await];
    let mut last = 0;
    for i in 0..10 {
        let c = &clients[i % 2];
        let g = if i % 3 == 0 {
            c.try_lock("fence", ttl(10)).await.unwrap()
        } else {
            c.lock("fence", ttl(10)).await.unwrap()
        };
        assert!(
            g.fencing_token() > last,
            "token {} after {last}",
            g.fencing_token()
        );
        last = g.fencing_token();
        g.unlock().await.unwrap();
    }
}

/// L6: a holder whose lease cannot be kept alive is told it lost the lock.
pub async fn l6_lost_when_lease_not_kept_alive(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(1)).await.unwrap();
    assert!(!guard.is_lost());
    a.faults().suspend_keepalive(true);
    tokio::time::timeout(5 * SECOND, guard.lost())
        .await
        .expect("lost signal not fired");
    assert!(guard.is_lost());
    let g = b.lock("x", ttl(10).wait(5 * SECOND)).await.unwrap();
    assert!(g.fencing_token() > guard.fencing_token());
    g.unlock().await.unwrap();
    drop(guard);
}

/// L6: the holder hears "lost" before anyone else can take the lock: a
/// holder stops its keepalives right after acquiring (before its first
/// renewal, where the local deadline is closest to the server's) while
/// another handle waits; the lost signal must come first.
pub async fn l6_lost_signal_before_anyone_else_acquires(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(1)).await.unwrap();
    a.faults().suspend_keepalive(true);
    let mut lost = guard.lost_signal();
    let b2 = b.clone();
    let waiter = tokio::spawn(async move {
        let g = b2.lock("x", ttl(10).wait(15 * SECOND)).await;
        (Instant::now(), g)
    });
    tokio::time::timeout(10 * SECOND, lost.wait_for(|l| *l))
        .await
        .expect("lost signal not fired")
        .unwrap();
    let lost_at = Instant::now();
    let (acquired_at, g) = waiter.await.unwrap();
    let g = g.expect("the waiter gets the lock after the TTL");
    assert!(
        lost_at < acquired_at,
        "the other handle acquired {:?} before the holder was told it lost the lock",
        lost_at - acquired_at
    );
    g.unlock().await.unwrap();
    drop(guard);
}

/// L6 (`Client::lease_lost`): the handle-wide signal fires when one of its
/// leases is lost, and not when another handle closes.
pub async fn l6_handle_lease_lost_signal(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let _guard = a.lock("x", ttl(1)).await.unwrap();
    let b_guard = b.lock("y", ttl(10)).await.unwrap();
    let b_lost = b.clone();
    let b_watch = tokio::spawn(async move { b_lost.lease_lost().await });
    let a_lost = a.clone();
    let a_watch = tokio::spawn(async move { a_lost.lease_lost().await });
    a.faults().suspend_keepalive(true);
    tokio::time::timeout(10 * SECOND, a_watch)
        .await
        .expect("lease_lost not fired")
        .unwrap();
    b_guard.unlock().await.unwrap();
    assert!(!b_watch.is_finished(), "another handle's signal fired");
    b_watch.abort();
}

/// L6: a transient failure while the lost monitor opens its watch (an etcd
/// leader election, a broken connection) is retried, never taken for a
/// loss; the monitor still sees a real delete afterwards.
pub async fn l6_transient_watch_failure_is_not_a_loss(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    a.faults().inject_at("watch", vinesync::Injected::Fail);
    let mut failed = a.faults().injected();
    let mut lost = guard.lost_signal();
    // Judged only once the monitor's watch open has failed (polled: on a
    // loaded machine it can come later than any fixed wait), and a moment
    // after, for a loss to show.
    tokio::time::timeout(10 * SECOND, failed.wait_for(|hit| hit.is_some()))
        .await
        .expect("the lost monitor never opened its watch")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !*lost.borrow(),
        "a failed watch open was reported as a lost lock"
    );
    assert!(b
        .faults()
        .delete_key(guard.key(), guard.fencing_token() as i64)
        .await
        .unwrap());
    tokio::time::timeout(5 * SECOND, lost.wait_for(|l| *l))
        .await
        .expect("lost signal not fired after the delete")
        .unwrap();
}

/// L7: once the holder was told its lock is lost, `unlock` says `Lost` —
/// even when its delete still finds the key (the lost signal fires a margin
/// before the server expires the lease), never "released".
pub async fn l7_unlock_after_the_lost_signal_is_lost(env: Env) {
    let a = env.client().await;
    let guard = a.lock("x", ttl(1)).await.unwrap();
    a.faults().suspend_keepalive(true);
    let mut lost = guard.lost_signal();
    tokio::time::timeout(10 * SECOND, lost.wait_for(|l| *l))
        .await
        .expect("lost signal not fired")
        .unwrap();
    let err = guard
        .unlock()
        .await
        .expect_err("unlock after the lost signal");
    assert_eq!(err.kind(), ErrorKind::Lost, "{err}");
}

/// L6: a holder whose key is deleted by someone else is told.
pub async fn l6_lost_when_key_deleted_by_someone_else(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let mut lost = guard.lost_signal();
    assert!(!*lost.borrow());
    assert!(b
        .faults()
        .delete_key(guard.key(), guard.fencing_token() as i64)
        .await
        .unwrap());
    tokio::time::timeout(5 * SECOND, lost.wait_for(|l| *l))
        .await
        .expect("lost signal not fired")
        .unwrap();
}

/// L6/L7: our own release is never reported as a loss, whether the lost
/// signal was asked for before the release or only after it (the handle
/// starts the watcher behind the signal lazily, and tells it of a release
/// only once it exists).
pub async fn l6_own_release_is_not_a_loss_whenever_asked(env: Env) {
    let a = env.client().await;
    // Asked before: the watcher runs when the key is deleted.
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let lost = guard.lost_signal();
    guard.unlock().await.unwrap();
    // Asked only after a release by id: the watcher starts once the key is
    // already gone.
    let guard = a.lock("x", ttl(10)).await.unwrap();
    a.unlock("x").await.unwrap();
    let lost_after = guard.lost_signal();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!*lost.borrow(), "a release reported as a loss");
    assert!(
        !*lost_after.borrow(),
        "a release reported as a loss (signal asked after the release)"
    );
    assert!(!guard.is_lost());
}

/// L7: unlock of an id never locked, and a second unlock, are `NotLocked`.
pub async fn l7_unlock_not_held_is_not_locked(env: Env) {
    let a = env.client().await;
    let err = a.unlock("never").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotLocked);
    assert!(err.message().contains("never"), "{err}");
    a.lock("x", ttl(10)).await.unwrap().detach();
    a.unlock("x").await.unwrap();
    assert_eq!(
        a.unlock("x").await.unwrap_err().kind(),
        ErrorKind::NotLocked
    );
    // A guard whose lock was unlocked by id says so; its id and key stay
    // readable, shared.
    let guard = a.lock("x", ttl(10)).await.unwrap();
    assert!(!guard.is_released());
    let (id, key) = (guard.shared_id(), guard.shared_key());
    assert_eq!((&*id, &*key), (guard.id(), guard.key()));
    a.unlock("x").await.unwrap();
    assert!(guard.is_released(), "unlocked by id");
    assert_eq!(
        guard.unlock().await.unwrap_err().kind(),
        ErrorKind::NotLocked
    );
}

/// L7: another handle's unlock never releases our lock.
pub async fn l7_unlock_never_touches_another_handles_lock(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    assert_eq!(
        b.unlock("x").await.unwrap_err().kind(),
        ErrorKind::NotLocked
    );
    assert_eq!(env.lock_keys(&a, "x").await.len(), 1);
    assert_eq!(
        b.try_lock("x", ttl(10)).await.unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    guard.unlock().await.unwrap();
}

/// L7: unlocking a lock that was lost says `Lost` and deletes nobody's key.
pub async fn l7_unlock_after_loss_is_lost_then_not_locked(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let (key, token) = (guard.key().to_string(), guard.fencing_token() as i64);
    guard.detach();
    assert!(b.faults().delete_key(&key, token).await.unwrap());
    let other = b.lock("x", ttl(10)).await.unwrap();
    assert_eq!(a.unlock("x").await.unwrap_err().kind(), ErrorKind::Lost);
    assert_eq!(
        a.unlock("x").await.unwrap_err().kind(),
        ErrorKind::NotLocked
    );
    assert_eq!(
        env.lock_keys(&a, "x").await.len(),
        1,
        "b's key must survive"
    );
    other.unlock().await.unwrap();
}

/// L8: a waiter whose future is dropped removes its key; the next waiter
/// gets the lock as soon as the holder releases (not after a TTL).
pub async fn l8_cancelled_waiter_leaves_no_key(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let c = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let b2 = b.clone();
    let cancelled = tokio::spawn(async move { b2.lock("x", ttl(60)).await.map(|g| g.detach()) });
    wait_keys(&env, &a, "x", 2).await;
    cancelled.abort();
    let _ = cancelled.await;
    wait_keys(&env, &a, "x", 1).await;
    let c2 = c.clone();
    let next = tokio::spawn(async move { c2.lock("x", ttl(10).wait(10 * SECOND)).await });
    wait_keys(&env, &a, "x", 2).await;
    guard.unlock().await.unwrap();
    let g = tokio::time::timeout(10 * SECOND, next)
        .await
        .unwrap()
        .unwrap()
        .expect("next waiter blocked by a cancelled waiter's key");
    g.unlock().await.unwrap();
}

/// L8: timed-out waiters and waiters behind an expired `select!` leave no
/// key behind either.
pub async fn l8_timed_out_and_aborted_waiters_leave_no_key(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    for _ in 0..3 {
        let err = b
            .lock("x", ttl(60).wait(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LockTimeout);
        // On the memory store the key is gone by the time the call
        // returns (etcd: one round trip later, in the background).
        if a.name() == "memory" {
            assert_eq!(env.lock_keys(&a, "x").await.len(), 1, "after LockTimeout");
        }
        let dropped = tokio::time::timeout(Duration::from_millis(200), b.lock("x", ttl(60))).await;
        assert!(dropped.is_err());
        if a.name() == "memory" {
            assert_eq!(
                env.lock_keys(&a, "x").await.len(),
                1,
                "after a dropped lock"
            );
        }
    }
    wait_keys(&env, &a, "x", 1).await;
    guard.unlock().await.unwrap();
    b.try_lock("x", ttl(10))
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
}

/// L9: a waiter whose lease expired while it waited must not be told it
/// holds the lock with its dead key. (It may start over with a fresh lease
/// and win honestly: then its token is that of a live key of its own.)
pub async fn l9_waiter_whose_lease_expired_is_not_told_it_holds(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    let b2 = b.clone();
    let waiter = tokio::spawn(async move { b2.lock("x", ttl(10).wait(10 * SECOND)).await });
    wait_keys(&env, &a, "x", 2).await;
    let old = env.lock_keys(&a, "x").await[1].clone();
    // B's lease "expires" behind its back (as on a pause longer than TTL).
    b.faults().expire_leases().await.unwrap();
    wait_keys(&env, &a, "x", 1).await;
    guard.unlock().await.unwrap();
    match tokio::time::timeout(15 * SECOND, waiter)
        .await
        .unwrap()
        .unwrap()
    {
        Ok(g) => {
            assert_ne!(
                g.fencing_token() as i64,
                old.create_revision,
                "told it holds with a dead key"
            );
            let keys = env.lock_keys(&a, "x").await;
            assert!(
                keys.iter()
                    .any(|kv| kv.create_revision == g.fencing_token() as i64 && kv.key == g.key()),
                "the holder's key must be live: {keys:?}"
            );
            g.unlock().await.unwrap();
        }
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::Lost | ErrorKind::LockTimeout),
            "{e}"
        ),
    }
}

/// L10: try_lock returns at once with WouldBlock, leaving no key. The last
/// try_lock finds free a lock its handle last found busy (on etcd: the
/// create without the empty-directory compare, `etcd/busy_dirs.rs`).
pub async fn l10_try_lock_returns_at_once_leaving_no_key(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let guard = a.try_lock("x", ttl(10)).await.unwrap();
    for _ in 0..5 {
        let err = b.try_lock("x", ttl(10)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert_eq!(env.lock_keys(&a, "x").await.len(), 1, "try_lock left a key");
    }
    guard.unlock().await.unwrap();
    let g = b.try_lock("x", ttl(10)).await.unwrap();
    g.unlock().await.unwrap();
}

/// L3/L7: acquisitions of one id under two prefixes (`init` changed the
/// prefix in between) are two locks of the handle; neither replaces the
/// other in its table, so each is released by `unlock` under its prefix and
/// no key is orphaned behind the handle's live lease.
pub async fn l7_init_prefix_change_keeps_both_acquisitions(env: Env) {
    let a = env.client().await;
    let first = a.options();
    let other_prefix = format!("{}/other", env.prefix());
    a.lock("x", ttl(10)).await.unwrap().detach();
    a.init(first.clone().prefix(other_prefix.clone()))
        .await
        .unwrap();
    a.lock("x", ttl(10)).await.unwrap().detach();
    a.init(first.clone()).await.unwrap();
    a.unlock("x").await.expect("the first prefix's acquisition");
    a.init(first.prefix(other_prefix)).await.unwrap();
    a.unlock("x")
        .await
        .expect("the second prefix's acquisition");
    assert!(
        a.faults().keys().await.unwrap().is_empty(),
        "keys left: {:?}",
        a.faults().keys().await.unwrap()
    );
}

/// L7 (README, "Init"): a lock held by the handle (vine style) stays
/// releasable by id after `init` changed the prefix: `unlock(id)` finds it
/// under its old directory, and another handle can take it at once (vine
/// keeps its held locks by id, so a rolling change of options must not
/// strand one).
pub async fn l7_unlock_by_id_after_init_changed_the_prefix(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let first = a.options();
    a.lock("x", ttl(10)).await.unwrap().detach();
    a.init(first.prefix(format!("{}/moved", env.prefix())))
        .await
        .unwrap();
    a.unlock("x")
        .await
        .expect("the acquisition made under the old prefix");
    assert_eq!(
        a.unlock("x").await.unwrap_err().kind(),
        ErrorKind::NotLocked
    );
    b.try_lock("x", ttl(10))
        .await
        .expect("the lock stayed held after unlock")
        .unlock()
        .await
        .unwrap();
}

/// Guards (SPEC §7 Rust): dropping a guard releases its lock; `detach`
/// keeps it held by the handle until `unlock(id)`.
pub async fn guard_drop_releases_and_detach_keeps(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    drop(a.lock("x", ttl(10)).await.unwrap());
    let g = b
        .lock("x", ttl(10).wait(5 * SECOND))
        .await
        .expect("dropped guard did not release");
    g.unlock().await.unwrap();
    a.lock("x", LockOptions::new()).await.unwrap().detach();
    assert_eq!(
        b.try_lock("x", ttl(10)).await.unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    a.unlock("x").await.unwrap();
    b.try_lock("x", ttl(10))
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
}

/// L6: compaction of the store's history is not mistaken for a loss: the
/// guard re-reads its key and keeps watching.
pub async fn l6_compaction_is_not_a_loss(env: Env) {
    let a = env.client().await;
    let guard = a.lock("x", ttl(10)).await.unwrap();
    // Two more writes, so the history the guard's watch needs is compacted.
    a.lock("y", ttl(10)).await.unwrap().unlock().await.unwrap();
    let later = a.lock("y", ttl(10)).await.unwrap();
    assert!(later.fencing_token() > guard.fencing_token() + 1);
    a.faults()
        .compact(later.fencing_token() as i64)
        .await
        .unwrap();
    let mut lost = guard.lost_signal();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!*lost.borrow(), "compaction reported as a lost lock");
    assert!(a
        .faults()
        .delete_key(guard.key(), guard.fencing_token() as i64)
        .await
        .unwrap());
    tokio::time::timeout(5 * SECOND, lost.wait_for(|l| *l))
        .await
        .expect("lost signal not fired after the compaction")
        .unwrap();
    later.unlock().await.unwrap();
}

/// L6: a lease grant answered after the lease's local deadline (etcd was
/// electing a leader, say) must not hand out a lock that is lost at birth:
/// the late lease is revoked and another one granted.
pub async fn l6_late_grant_does_not_give_a_lock_lost_at_birth(env: Env) {
    let a = env.client().await;
    a.faults().inject_at(
        "grant",
        vinesync::Injected::Delay(Duration::from_millis(1500)),
    );
    let guard = a.lock("x", ttl(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !guard.is_lost(),
        "the lock was lost at birth: its lease grant was answered after its TTL"
    );
    guard.unlock().await.unwrap();
}

/// Key layout: a lock released cleanly gives its key's name back to the
/// handle, and the handle's next acquisition of that lock writes the same
/// name, with a new fencing token (etcd keeps an index entry for every key
/// name until it compacts, and every read of the lock's directory walks
/// them: see `key_names.rs`). A name in use is never handed out twice: a
/// second acquisition by the same handle (L3) waits under its own.
pub async fn layout_key_name_reused_after_a_clean_release(env: Env) {
    let a = env.client().await;
    let first = a.lock("x", ttl(10)).await.unwrap();
    let (name, token) = (first.key().to_string(), first.fencing_token());
    first.unlock().await.unwrap();
    let again = a.lock("x", ttl(10)).await.unwrap();
    assert_eq!(again.key(), name, "a cleanly released name was not reused");
    assert!(again.fencing_token() > token);
    let a2 = a.clone();
    let waiting = tokio::spawn(async move { a2.lock("x", ttl(10)).await });
    // Two keys: the waiter did not take the holder's name.
    wait_keys(&env, &a, "x", 2).await;
    let again_token = again.fencing_token();
    again.unlock().await.unwrap();
    let next = tokio::time::timeout(5 * SECOND, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_ne!(next.key(), name);
    assert!(next.fencing_token() > again_token);
    next.unlock().await.unwrap();
}

/// Key layout: a name is not written again while a write of it may still
/// be pending: after a release whose delete failed (the key is deleted in
/// the background, by name) and after a guard dropped without unlock
/// (released in the background), the next acquisition takes a new name.
pub async fn layout_key_name_not_reused_while_a_write_may_be_pending(env: Env) {
    let a = env.client().await;
    let first = a.lock("x", ttl(10)).await.unwrap();
    let name = first.key().to_string();
    a.faults()
        .inject_at("delete_owned", vinesync::Injected::Fail);
    assert_eq!(
        first.unlock().await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    let second = a.lock("x", ttl(10)).await.unwrap();
    assert_ne!(
        second.key(),
        name,
        "a name reused while its delete was still pending"
    );
    let name = second.key().to_string();
    drop(second);
    let third = a.lock("x", ttl(10)).await.unwrap();
    assert_ne!(
        third.key(),
        name,
        "a name reused while its release ran in the background"
    );
    third.unlock().await.unwrap();
}

/// Key layout: a reused name confuses nobody. Another handle's waiter
/// queued behind our key gets the lock when we release; our next
/// acquisition, under the same name, queues behind that waiter; the reused
/// key's lost signal stays quiet (the delete of the name's previous key is
/// not its own: only a watch served by a lagging cluster member could
/// still deliver it, so the unit test of `deletes_incarnation` is what
/// fails without that check). Then two handles, two tasks each, take the
/// lock in turn, some releasing by dropping the guard: never two holders
/// at once.
pub async fn layout_reused_name_queues_behind_others_and_is_not_lost(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let first = a.lock("x", ttl(10)).await.unwrap();
    // The first key's lost monitor runs through its own release.
    let _monitor = first.lost_signal();
    let name = first.key().to_string();
    let b2 = b.clone();
    let b_waits = tokio::spawn(async move { b2.lock("x", ttl(10)).await });
    wait_keys(&env, &a, "x", 2).await;
    first.unlock().await.unwrap();
    let b_holds = tokio::time::timeout(5 * SECOND, b_waits)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let a2 = a.clone();
    let a_waits = tokio::spawn(async move { a2.lock("x", ttl(10)).await });
    wait_keys(&env, &a, "x", 2).await;
    assert!(
        !a_waits.is_finished(),
        "took the lock while another handle held it"
    );
    b_holds.unlock().await.unwrap();
    let again = tokio::time::timeout(5 * SECOND, a_waits)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(again.key(), name, "the name was not reused");
    let lost = again.lost_signal();
    tokio::time::sleep(SECOND / 2).await;
    assert!(!*lost.borrow(), "the reused key reported lost");
    again.unlock().await.unwrap();

    let inside = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (inside, overlaps) = (inside.clone(), overlaps.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..30 {
                let guard = client.lock("x", ttl(10)).await.unwrap();
                if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
                if round % 7 == 3 {
                    drop(guard); // released in the background
                } else {
                    guard.unlock().await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(60 * SECOND, task)
            .await
            .expect("a task was stuck")
            .unwrap();
    }
    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "two holders at once");
}
