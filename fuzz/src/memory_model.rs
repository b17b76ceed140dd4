//! Random sequences of operations by three handles on one memory store,
//! each checked against a small model of the SPEC rules:
//!
//! - L1/L10: `try_lock` succeeds exactly when no handle holds the id, else
//!   `WouldBlock`;
//! - L5: every acquisition's fencing token is higher than any before it;
//! - L7: `unlock(id)` by the holder succeeds; by anyone else it is
//!   `NotLocked` and the holder keeps the lock;
//! - E1/E2/E7: candidates are listed in campaign order and the first live
//!   one is the only primary;
//! - E4: a resigned candidate leaves the list at once.
//!
//! Each input byte pair is one operation: (what, argument).

use std::collections::BTreeMap;
use std::time::Duration;

use vinesync::{
    Client, ErrorKind, Leader, LeaderOptions, LockGuard, LockOptions, MemberOptions, MemoryStore,
    Options, Role,
};

const HANDLES: usize = 3;
const IDS: [&str; 2] = ["a", "b/c"];
const NAMESPACE: &str = "fuzz";

fn lock_options() -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(30))
}

/// What the model expects, and the live objects it tracks.
#[derive(Default)]
struct Model {
    /// Per id: the handle holding it and its guard.
    held: BTreeMap<&'static str, (usize, LockGuard)>,
    highest_token: u64,
    /// Candidates in campaign order: (handle, candidate id, leader).
    candidates: Vec<(usize, String, Leader)>,
    campaigns: u32,
}

/// One input.
pub fn run(data: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(check(data));
}

async fn check(data: &[u8]) {
    let store = MemoryStore::new();
    let handles: Vec<Client> = (0..HANDLES)
        .map(|_| Client::with_memory_store(store.clone(), Options::new()).expect("a memory handle"))
        .collect();
    let mut model = Model::default();
    for op in data.chunks(2).take(64) {
        let (what, arg) = (op[0] % 6, op.get(1).copied().unwrap_or(0));
        let h = usize::from(arg) % HANDLES;
        let id = IDS[usize::from(arg / 3) % IDS.len()];
        match what {
            0 => try_lock(&mut model, &handles[h], h, id).await,
            1 => release_by_guard(&mut model, id).await,
            2 => unlock_by_id(&mut model, &handles[h], h, id).await,
            3 => campaign(&mut model, &handles[h], h).await,
            4 => resign(&mut model, usize::from(arg)).await,
            _ => list(&model, &handles[h]).await,
        }
    }
    for client in handles {
        client.close().await;
    }
}

async fn try_lock(model: &mut Model, client: &Client, h: usize, id: &'static str) {
    let result = client.try_lock(id, lock_options()).await;
    match (model.held.contains_key(id), result) {
        (false, Ok(guard)) => {
            let token = guard.fencing_token();
            assert!(
                token > model.highest_token,
                "L5: token {token} after {}",
                model.highest_token
            );
            model.highest_token = token;
            model.held.insert(id, (h, guard));
        }
        (true, Err(e)) if e.kind() == ErrorKind::WouldBlock => {}
        (free, other) => panic!("L1/L10: try_lock({id}) with the lock free={free}: {other:?}"),
    }
}

async fn release_by_guard(model: &mut Model, id: &'static str) {
    if let Some((_, guard)) = model.held.remove(id) {
        guard
            .unlock()
            .await
            .expect("L7: the holder's guard unlocks");
    }
}

async fn unlock_by_id(model: &mut Model, client: &Client, h: usize, id: &'static str) {
    let holder = model.held.get(id).map(|(holder, _)| *holder);
    let result = client.unlock(id).await;
    match (holder, result) {
        (Some(holder), Ok(())) if holder == h => {
            // Released by id: dropping the guard must not touch the next holder.
            model.held.remove(id);
        }
        (Some(holder), Err(e)) if holder != h && e.kind() == ErrorKind::NotLocked => {}
        (None, Err(e)) if e.kind() == ErrorKind::NotLocked => {}
        (holder, other) => panic!("L7: unlock({id}) by handle {h}, holder {holder:?}: {other:?}"),
    }
}

async fn campaign(model: &mut Model, client: &Client, h: usize) {
    if model.candidates.len() >= 6 {
        return;
    }
    model.campaigns += 1;
    let id = format!("c{}", model.campaigns);
    let options = LeaderOptions::new()
        .namespace(NAMESPACE)
        .id(id.as_str())
        .ttl(Duration::from_secs(30));
    let leader = client.leader("svc", options).await.expect("E1: leader");
    model.candidates.push((h, id, leader));
}

async fn resign(model: &mut Model, which: usize) {
    if model.candidates.is_empty() {
        return;
    }
    let (_, _, leader) = model.candidates.remove(which % model.candidates.len());
    leader.resign().await.expect("E4: resign");
}

async fn list(model: &Model, client: &Client) {
    let members = client
        .list_members(MemberOptions::new().namespace(NAMESPACE))
        .await
        .expect("E7: list_members");
    let listed: Vec<(&str, Role)> = members.iter().map(|m| (m.id.as_str(), m.role)).collect();
    let expected: Vec<(&str, Role)> = model
        .candidates
        .iter()
        .enumerate()
        .map(|(i, (_, id, _))| {
            let role = if i == 0 { Role::Primary } else { Role::Follow };
            (id.as_str(), role)
        })
        .collect();
    assert_eq!(
        listed, expected,
        "E2/E7: members in campaign order, first primary"
    );
}
