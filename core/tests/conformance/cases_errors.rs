//! SPEC §6: bad input gives `InvalidArgument` naming what was wrong; a
//! closed handle gives `Closed`; nothing panics.

use std::time::Duration;

use vinesync::{ErrorKind, LeaderOptions, LockOptions, MemberOptions, Options, WatchOptions};

use super::{ttl, Env};

fn assert_invalid<T: std::fmt::Debug>(result: vinesync::Result<T>, mentions: &str) {
    let err = result.expect_err("bad input must be refused");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(
        err.message().contains(mentions),
        "message {:?} should mention {mentions:?}",
        err.message()
    );
}

/// Empty id, NUL, id over 1 KiB, TTL under 1 s, bad options.
pub async fn errors_invalid_arguments_are_named(env: Env) {
    let c = env.client().await;
    let long = "x".repeat(1025);
    assert_invalid(c.lock("", ttl(10)).await, "lock id");
    assert_invalid(c.lock("a\0b", ttl(10)).await, "NUL");
    assert_invalid(c.lock(&long, ttl(10)).await, "1025 bytes");
    assert_invalid(c.try_lock("", ttl(10)).await, "lock id");
    assert_invalid(c.unlock("").await, "lock id");
    assert_invalid(
        c.lock("x", LockOptions::new().ttl(Duration::from_millis(999)))
            .await,
        "LockTTL",
    );
    assert_invalid(c.leader("", LeaderOptions::new()).await, "leader name");
    assert_invalid(
        c.leader("svc", LeaderOptions::new().ttl(Duration::ZERO))
            .await,
        "LeaderTTL",
    );
    assert_invalid(
        c.leader("svc", LeaderOptions::new().namespace("")).await,
        "LeaderNS",
    );
    assert_invalid(
        c.leader("svc", LeaderOptions::new().id("a\0")).await,
        "LeaderId",
    );
    assert_invalid(
        c.list_members(MemberOptions::new().namespace("")).await,
        "MemberNS",
    );
    assert_invalid(
        c.watch_elect(WatchOptions::new().namespace(&long)).await,
        "WatchNS",
    );
    assert_invalid(c.watch_elect(WatchOptions::new().id("")).await, "WatchId");
    assert_invalid(c.init(Options::new().prefix("no-slash")).await, "Prefix");
    assert_invalid(
        c.init(Options::new().nodes(Vec::<String>::new())).await,
        "Nodes",
    );
    assert_invalid(c.init(c.options().nodes(["nonsense"])).await, "nonsense");
    // Nothing was written by any refused call.
    assert!(c.faults().keys().await.unwrap().is_empty());
    // The handle still works after all that.
    c.try_lock("x", ttl(10))
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
}

/// Every operation on a closed handle is `Closed`; closing twice is fine;
/// closing releases what the handle held.
pub async fn errors_closed_handle(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    a.lock("held", ttl(60)).await.unwrap().detach();
    let leader = a
        .leader("svc", LeaderOptions::new().ttl(Duration::from_secs(60)))
        .await
        .unwrap();
    leader.wait_elected().await.unwrap();
    let guard = a.lock("guarded", ttl(60)).await.unwrap();
    let mut watcher = a.watch_elect(WatchOptions::new()).await.unwrap();
    let mut observer = leader.observe().await.unwrap();
    a.close().await;
    // Once close returns, the handle's leader is not primary, even before
    // its campaign has noticed (another may be elected any moment now).
    assert!(
        !leader.is_primary(),
        "a closed handle's leader says primary"
    );
    a.close().await;
    assert!(a.is_closed());
    let kinds = [
        a.lock("x", ttl(10)).await.map(|_| ()).unwrap_err().kind(),
        a.try_lock("x", ttl(10))
            .await
            .map(|_| ())
            .unwrap_err()
            .kind(),
        a.unlock("held").await.unwrap_err().kind(),
        a.leader("svc", LeaderOptions::new())
            .await
            .map(|_| ())
            .unwrap_err()
            .kind(),
        a.list_members(MemberOptions::new())
            .await
            .map(|_| ())
            .unwrap_err()
            .kind(),
        a.watch_elect(WatchOptions::new())
            .await
            .map(|_| ())
            .unwrap_err()
            .kind(),
        a.init(Options::new()).await.unwrap_err().kind(),
    ];
    assert!(kinds.iter().all(|k| *k == ErrorKind::Closed), "{kinds:?}");
    // What the handle made is closed with it (SPEC H1): its guards and
    // leaders answer Closed, its watchers end.
    assert_eq!(guard.unlock().await.unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(leader.resign().await.unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(
        leader.wait_elected().await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    for _ in 0..100 {
        match tokio::time::timeout(Duration::from_secs(5), watcher.next()).await {
            Ok(None) => break,
            Ok(Some(_)) => {} // buffered before the close
            Err(_) => panic!("a closed handle's watcher did not end"),
        }
    }
    for _ in 0..100 {
        match tokio::time::timeout(Duration::from_secs(5), observer.next()).await {
            Ok(None) => break,
            Ok(Some(_)) => {}
            Err(_) => panic!("a closed handle's observer did not end"),
        }
    }
    // Closing revoked the leases: the lock and the candidacy are free.
    b.try_lock("held", ttl(10))
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    assert!(b
        .list_members(MemberOptions::new())
        .await
        .unwrap()
        .is_empty());
    drop(leader);
}

/// vine's `String()` and `Options()`; `Init` changes the prefix.
pub async fn errors_string_and_options(env: Env) {
    let c = env.client().await;
    assert!(["memory", "etcd"].contains(&c.name()));
    assert_eq!(c.to_string(), c.name());
    assert_eq!(c.options().prefix, env.prefix());
    let other_prefix = format!("{}/other", env.prefix());
    let mut options = c.options();
    options.prefix = other_prefix.clone();
    c.init(options).await.unwrap();
    assert_eq!(c.options().prefix, other_prefix);
    let g = c.lock("x", ttl(10)).await.unwrap();
    assert!(
        g.key()
            .starts_with(&vinesync::keys::lock_dir(&c.options(), "x")),
        "{}",
        g.key()
    );
    g.unlock().await.unwrap();
}

/// SPEC §6: a `LockWait` that passes while the store has not answered (a
/// stalled etcd member, a network that drops packets) says so, instead of
/// looking like a lock held by someone else; one that passes behind a
/// holder does not blame the store.
pub async fn errors_lock_timeout_names_an_unanswered_store(env: Env) {
    let wait = Duration::from_millis(300);
    async fn timeout_message(client: &vinesync::Client, wait: Duration) -> String {
        let error = client.lock("x", ttl(10).wait(wait)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::LockTimeout, "{error}");
        error.message().to_string()
    }
    // The first lock of a handle grants its lease.
    let a = env.client().await;
    a.faults().inject_at("grant", vinesync::Injected::Hang);
    let message = timeout_message(&a, wait).await;
    assert!(
        message.contains("had not answered the request for its lease"),
        "{message}"
    );
    // With a lease: the write of the lock's key.
    let b = env.client().await;
    let warm = b.lock("warm", ttl(10)).await.unwrap();
    b.faults().inject_at("create", vinesync::Injected::Hang);
    let message = timeout_message(&b, wait).await;
    assert!(
        message.contains("had not answered the write of its key"),
        "{message}"
    );
    // Behind a holder: busy, nothing else (a warmed-up handle, and a wait
    // long enough for its key write on a loaded etcd).
    a.lock("warm-a", ttl(10))
        .await
        .unwrap()
        .unlock()
        .await
        .unwrap();
    let held = b.lock("x", ttl(10)).await.unwrap();
    let busy = Duration::from_secs(3);
    assert_eq!(
        timeout_message(&a, busy).await,
        format!("lock timeout: lock \"x\" not acquired within {busy:?}"),
    );
    held.unlock().await.unwrap();
    warm.unlock().await.unwrap();
}
