//! Election rules E1–E8.

use std::time::{Duration, Instant};

use vinesync::{
    Client, ElectEvent, ElectEventKind, ElectWatcher, ErrorKind, Leader, LeaderOptions,
    MemberOptions, Role, WatchOptions,
};

use super::Env;

const SECOND: Duration = Duration::from_secs(1);

fn candidate(ns: &str, id: &str, ttl: i64) -> LeaderOptions {
    super::leader_options(ns, id, u64::try_from(ttl).unwrap_or(1))
}

async fn members(c: &Client, ns: &str) -> Vec<vinesync::Member> {
    c.list_members(MemberOptions::new().namespace(ns))
        .await
        .unwrap()
}

async fn elected(leader: &Leader) {
    tokio::time::timeout(5 * SECOND, leader.wait_elected())
        .await
        .unwrap_or_else(|_| panic!("{} not elected in time", leader.id()))
        .unwrap();
}

/// E1: `leader` returns once the candidate key is written; `list_members`
/// sees the candidate right away, even while it is not primary.
pub async fn e1_leader_returns_at_once_and_is_listed(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let first = a.leader("svc", candidate("ns", "first", 10)).await.unwrap();
    let second = b
        .leader("svc", candidate("ns", "second", 10))
        .await
        .unwrap();
    let ids: Vec<String> = members(&a, "ns").await.into_iter().map(|m| m.id).collect();
    assert_eq!(ids, vec!["first", "second"]);
    assert_eq!(first.id(), "first");
    assert_eq!(second.name(), "svc");
    second.resign().await.unwrap();
    first.resign().await.unwrap();
}

/// E2: one primary per namespace: the oldest live candidate.
pub async fn e2_one_primary_lowest_revision(env: Env) {
    let mut leaders = Vec::new();
    for i in 0..3 {
        let c = env.client().await;
        leaders.push(
            c.leader("svc", candidate("ns", &format!("c{i}"), 10))
                .await
                .unwrap(),
        );
    }
    elected(&leaders[0]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(leaders[0].is_primary());
    assert!(!leaders[1].is_primary() && !leaders[2].is_primary());
    let list = members(&env.client().await, "ns").await;
    let primaries: Vec<_> = list.iter().filter(|m| m.role == Role::Primary).collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0].id, "c0");
    assert!(leaders[0].fencing_token() < leaders[1].fencing_token());
    for l in &leaders {
        l.resign().await.unwrap();
    }
}

/// E2: a primary whose lease is lost stops being primary; the next one
/// takes over (never two at once).
pub async fn e2_lost_lease_ends_primary_role(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let la = a.leader("svc", candidate("ns", "a", 1)).await.unwrap();
    let lb = b.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    elected(&la).await;
    let mut status = la.status();
    assert_eq!(status.next().await, Some(true));
    a.faults().suspend_keepalive(true);
    let next = tokio::time::timeout(5 * SECOND, status.next())
        .await
        .unwrap();
    assert_eq!(next, Some(false));
    assert!(!la.is_primary());
    elected(&lb).await;
    lb.resign().await.unwrap();
}

/// E3: `status()` says true on election and false when the role ends.
pub async fn e3_status_true_then_false(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let la = a.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    let lb = b.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    let mut sa = la.status();
    let mut sb = lb.status();
    assert_eq!(
        tokio::time::timeout(5 * SECOND, sa.next()).await.unwrap(),
        Some(true)
    );
    la.resign().await.unwrap();
    assert_eq!(
        tokio::time::timeout(5 * SECOND, sa.next()).await.unwrap(),
        Some(false)
    );
    assert_eq!(
        tokio::time::timeout(5 * SECOND, sa.next()).await.unwrap(),
        None
    );
    // An ended stream stays ended (it used to panic when asked again).
    assert_eq!(
        tokio::time::timeout(5 * SECOND, sa.next()).await.unwrap(),
        None
    );
    assert!(futures::stream::FusedStream::is_terminated(&sa));
    assert_eq!(
        tokio::time::timeout(5 * SECOND, sb.next()).await.unwrap(),
        Some(true)
    );
    lb.resign().await.unwrap();
}

/// E3: `wait_elected` blocks until this candidate is primary.
pub async fn e3_wait_elected_blocks_until_primary(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let la = a.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    let lb = b.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    elected(&la).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), lb.wait_elected())
            .await
            .is_err()
    );
    la.resign().await.unwrap();
    elected(&lb).await;
    lb.resign().await.unwrap();
    assert_eq!(lb.wait_elected().await.unwrap_err().kind(), ErrorKind::Lost);
}

/// E4: after `resign` the next candidate is primary within a watch round
/// trip, not a TTL (60 s here); resigning twice is fine.
pub async fn e4_resign_hands_over_at_once_and_is_idempotent(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let la = a.leader("svc", candidate("ns", "a", 60)).await.unwrap();
    let lb = b.leader("svc", candidate("ns", "b", 60)).await.unwrap();
    elected(&la).await;
    let started = Instant::now();
    la.resign().await.unwrap();
    elected(&lb).await;
    assert!(
        started.elapsed() < 5 * SECOND,
        "handover took {:?}",
        started.elapsed()
    );
    la.resign().await.unwrap();
    lb.resign().await.unwrap();
    lb.resign().await.unwrap();
    assert!(members(&a, "ns").await.is_empty());
}

/// E5: when the primary's process dies, the next candidate is primary
/// within TTL + 1 s (checked here with 2 s of slack for a loaded machine).
pub async fn e5_failover_after_crash_within_ttl(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let la = a.leader("svc", candidate("ns", "a", 1)).await.unwrap();
    let lb = b.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    elected(&la).await;
    let started = Instant::now();
    a.faults().crash().await;
    tokio::time::timeout(4 * SECOND, lb.wait_elected())
        .await
        .expect("no failover within TTL + 1 s (+2 s slack)")
        .unwrap();
    assert!(
        started.elapsed() > Duration::from_millis(200),
        "failover before TTL"
    );
    std::mem::forget(la); // a crashed process does not resign
    lb.resign().await.unwrap();
}

/// E6: `observe` yields the current primary, then each new one;
/// `primary()` returns the current primary.
pub async fn e6_observe_and_primary(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let la = a.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    let lb = b.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    let mut observer = lb.observe().await.unwrap();
    let first = tokio::time::timeout(5 * SECOND, observer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((first.namespace.as_str(), first.id.as_str()), ("ns", "a"));
    let p = lb.primary().await.unwrap();
    assert_eq!((p.id.as_str(), p.role), ("a", Role::Primary));
    la.resign().await.unwrap();
    let second = tokio::time::timeout(5 * SECOND, observer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.id, "b");
    assert_eq!(lb.primary().await.unwrap().id, "b");
    observer.close();
    assert!(observer.next().await.is_none(), "a closed observer ends");
    lb.resign().await.unwrap();
}

/// E6: `primary()` of a namespace without candidates is `NoLeader`.
pub async fn e6_primary_of_empty_namespace_is_no_leader(env: Env) {
    let a = env.client().await;
    let la = a.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    la.resign().await.unwrap();
    assert_eq!(la.primary().await.unwrap_err().kind(), ErrorKind::NoLeader);
}

/// E7: `list_members` gives every live candidate in campaign order, exactly
/// one of them primary.
pub async fn e7_members_in_campaign_order_one_primary(env: Env) {
    let c = env.client().await;
    let mut leaders = Vec::new();
    for i in 0..4 {
        leaders.push(
            c.leader("svc", candidate("ns", &format!("m{i}"), 10))
                .await
                .unwrap(),
        );
    }
    let list = members(&c, "ns").await;
    let ids: Vec<&str> = list.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m0", "m1", "m2", "m3"]);
    let roles: Vec<Role> = list.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::Primary, Role::Follow, Role::Follow, Role::Follow]
    );
    assert!(list
        .iter()
        .all(|m| m.namespace == "ns" && m.leader == "svc"));
    leaders[0].resign().await.unwrap();
    let list = members(&c, "ns").await;
    assert_eq!(list[0].id, "m1");
    assert_eq!(list.iter().filter(|m| m.role == Role::Primary).count(), 1);
    for l in &leaders {
        l.resign().await.unwrap();
    }
    assert!(members(&c, "ns").await.is_empty());
}

/// E7: namespace `ns` does not include `ns2` (or `ns/x`).
pub async fn e7_namespace_prefix_isolation(env: Env) {
    let c = env.client().await;
    let l1 = c.leader("svc", candidate("ns", "in-ns", 10)).await.unwrap();
    let l2 = c
        .leader("svc", candidate("ns2", "in-ns2", 10))
        .await
        .unwrap();
    let l3 = c
        .leader("svc", candidate("ns/x", "in-ns-x", 10))
        .await
        .unwrap();
    let ids: Vec<String> = members(&c, "ns").await.into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["in-ns"]);
    assert_eq!(members(&c, "ns2").await.len(), 1);
    assert_eq!(members(&c, "ns/x").await[0].role, Role::Primary);
    for l in [l1, l2, l3] {
        l.resign().await.unwrap();
    }
}

async fn next_event(w: &mut ElectWatcher) -> ElectEvent {
    tokio::time::timeout(5 * SECOND, w.next())
        .await
        .expect("no election event in time")
        .expect("the watch ended")
        .unwrap()
}

fn summary(e: &ElectEvent) -> (ElectEventKind, String, Role) {
    (e.kind, e.member.id.clone(), e.member.role)
}

/// E8: `watch_elect` reports every join, leave and primary change.
pub async fn e8_watch_elect_join_leave_elected(env: Env) {
    use ElectEventKind::*;
    let c = env.client().await;
    let mut w = c
        .watch_elect(WatchOptions::new().namespace("ns"))
        .await
        .unwrap();
    let la = c.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    let lb = c.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    la.resign().await.unwrap();
    lb.resign().await.unwrap();
    // A last join proves no extra event sneaked in before it.
    let lc = c.leader("svc", candidate("ns", "c", 10)).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(summary(&next_event(&mut w).await));
    }
    let s = |k, id: &str, r| (k, id.to_string(), r);
    assert_eq!(
        seen,
        vec![
            s(Joined, "a", Role::Primary),
            s(Elected, "a", Role::Primary),
            s(Joined, "b", Role::Follow),
            s(Left, "a", Role::Primary),
            s(Elected, "b", Role::Primary),
            s(Left, "b", Role::Primary),
            s(Joined, "c", Role::Primary),
        ]
    );
    lc.resign().await.unwrap();
    w.close();
}

/// E8: `WatchId` filters to one member; `close` ends the watch.
pub async fn e8_watch_elect_filtered_by_id_and_close(env: Env) {
    use ElectEventKind::*;
    let c = env.client().await;
    let mut only_b = c
        .watch_elect(WatchOptions::new().namespace("ns").id("b"))
        .await
        .unwrap();
    let la = c.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    let lb = c.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    la.resign().await.unwrap();
    lb.resign().await.unwrap();
    let seen: Vec<_> = [
        next_event(&mut only_b).await,
        next_event(&mut only_b).await,
        next_event(&mut only_b).await,
    ]
    .iter()
    .map(|e| (e.kind, e.member.id.clone()))
    .collect();
    assert_eq!(
        seen,
        vec![
            (Joined, "b".into()),
            (Elected, "b".into()),
            (Left, "b".into())
        ]
    );
    only_b.close();
    assert!(only_b.next().await.is_none(), "a closed watcher ends");
}

/// E2/E3 (SPEC H3): a campaign that ends on an error (here its "is my key
/// still first" read fails for good) removes its own key: the namespace is
/// not left with a candidate that will never be primary in front. (The
/// read that fails is the one after the predecessor left: where the
/// campaign stands in the queue.)
pub async fn e3_failed_campaign_removes_its_key(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let c = env.client().await;
    let first = b.leader("svc", candidate("ns", "b", 10)).await.unwrap();
    first.wait_elected().await.unwrap();
    let second = a.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    // Armed once the campaign is parked on its predecessor's watch, so the
    // read that fails is the one after the resign.
    super::reads_settled(std::slice::from_ref(&a)).await;
    a.faults().inject_at(
        "queue_position",
        vinesync::Injected::Error(ErrorKind::Internal),
    );
    first.resign().await.unwrap();
    let err = tokio::time::timeout(5 * SECOND, second.wait_elected())
        .await
        .expect("the failed campaign must end")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Lost, "{err}");
    assert!(second.is_ended());
    let ok = super::eventually(15 * SECOND, || async { members(&c, "ns").await.is_empty() }).await;
    assert!(
        ok,
        "the ended candidacy's key stays: {:?}",
        members(&c, "ns").await
    );
    let third = c.leader("svc", candidate("ns", "c", 10)).await.unwrap();
    // 5 s: below the 10 s TTL a leftover key of the ended candidacy
    // would add, with room for a loaded machine.
    tokio::time::timeout(5 * SECOND, third.wait_elected())
        .await
        .expect("a new candidate is primary at once")
        .unwrap();
    third.resign().await.unwrap();
    drop(second);
}

/// E6/E8 (`Leader::proclaim`): a new value is seen by `list_members` and a
/// primary that proclaims is announced again to watchers.
pub async fn e6_proclaim_updates_members_and_watchers(env: Env) {
    let a = env.client().await;
    let w = env.client().await;
    let leader = a
        .leader("old-name", candidate("ns", "a", 10))
        .await
        .unwrap();
    leader.wait_elected().await.unwrap();
    let mut watcher = w
        .watch_elect(WatchOptions::new().namespace("ns"))
        .await
        .unwrap();
    leader.proclaim("new-name").await.unwrap();
    let listed = members(&w, "ns").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].leader, "new-name");
    let event = tokio::time::timeout(5 * SECOND, watcher.next())
        .await
        .expect("the proclaim is announced")
        .expect("the watch ended")
        .unwrap();
    assert_eq!(event.kind, ElectEventKind::Elected);
    assert_eq!(event.member.leader, "new-name");
    leader.resign().await.unwrap();
    assert_eq!(
        leader.proclaim("later").await.unwrap_err().kind(),
        ErrorKind::Lost
    );
}

/// E2 (`Leader::lost`): fires when the candidacy's lease is lost, never
/// after a resign.
pub async fn e2_leader_lost_fires_on_loss_not_on_resign(env: Env) {
    let a = env.client().await;
    let b = env.client().await;
    let resigned = b.leader("svc", candidate("other", "b", 10)).await.unwrap();
    resigned.resign().await.unwrap();
    let leader = a.leader("svc", candidate("ns", "a", 1)).await.unwrap();
    leader.wait_elected().await.unwrap();
    a.faults().suspend_keepalive(true);
    tokio::time::timeout(10 * SECOND, leader.lost())
        .await
        .expect("lost not fired after the lease expired");
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), resigned.lost())
            .await
            .is_err(),
        "lost fired after a resign"
    );
}

/// E3/E8 (Rust streams): `status()`, `watch_elect` and `observe` are
/// `futures::Stream`s that end with `None` — the status stream when the
/// candidacy ends, the watcher and observer once closed.
pub async fn e8_status_watcher_and_observer_are_streams(env: Env) {
    use futures::StreamExt;
    let a = env.client().await;
    let w = env.client().await;
    let mut watcher = w
        .watch_elect(WatchOptions::new().namespace("ns"))
        .await
        .unwrap();
    let leader = a.leader("svc", candidate("ns", "a", 10)).await.unwrap();
    let mut observer = leader.observe().await.unwrap();
    let status = leader.status();
    leader.wait_elected().await.unwrap();
    let first = StreamExt::next(&mut watcher).await.unwrap().unwrap();
    assert_eq!(
        (first.kind, first.member.id.as_str()),
        (ElectEventKind::Joined, "a")
    );
    let primary = StreamExt::next(&mut observer).await.unwrap().unwrap();
    assert_eq!(primary.id, "a");
    leader.resign().await.unwrap();
    let changes: Vec<bool> = tokio::time::timeout(5 * SECOND, status.collect())
        .await
        .expect("the status stream ends with the candidacy");
    assert_eq!(changes, [true, false]);
    watcher.close();
    observer.close();
    assert!(StreamExt::next(&mut watcher).await.is_none());
    assert!(StreamExt::next(&mut observer).await.is_none());
}
