//! What the suite reads from etcd directly: keys and leases left behind,
//! and the true sequence of primaries of an election namespace (replayed
//! from a watch of the candidates' keys: primary = lowest create revision).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use etcd_client::{Client, EventType, GetOptions, SortOrder, SortTarget, WatchOptions};

use crate::clock;

pub async fn connect(endpoints: &[String]) -> Result<Client, String> {
    Client::connect(endpoints, None)
        .await
        .map_err(|e| format!("connecting to etcd: {e}"))
}

/// Keys under `prefix` and leases in the whole cluster.
pub async fn leftovers(client: &mut Client, prefix: &str) -> Result<(i64, usize), String> {
    let keys = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .map_err(|e| e.to_string())?
        .count();
    let leases = client
        .leases()
        .await
        .map_err(|e| e.to_string())?
        .leases()
        .len();
    Ok((keys, leases))
}

/// Keys under `prefix` (with their lease ids), for a leak report.
pub async fn keys_with_leases(client: &mut Client, prefix: &str) -> Result<Vec<String>, String> {
    let response = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(response
        .kvs()
        .iter()
        .map(|kv| {
            format!(
                "{} (lease {:x})",
                String::from_utf8_lossy(kv.key()),
                kv.lease()
            )
        })
        .collect())
}

/// A candidate's id from its value: vinesync's JSON, else the raw value.
fn candidate_id(value: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(value)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(value).into_owned())
}

/// The primary etcd has now: the id of the candidate under `dir` with the
/// lowest create revision (None: no candidate).
pub async fn primary_now(client: &mut Client, dir: &str) -> Result<Option<String>, String> {
    let response = client
        .get(
            dir,
            Some(
                GetOptions::new()
                    .with_prefix()
                    .with_sort(SortTarget::Create, SortOrder::Ascend)
                    .with_limit(1),
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.kvs().first().map(|kv| candidate_id(kv.value())))
}

/// Deletes every key under `dir` but the oldest (the holder's): as if
/// the waiters' leases had expired, or an operator had removed them.
/// Returns how many it deleted.
pub async fn delete_waiters(endpoints: &[String], dir: &str) -> Result<usize, String> {
    let mut client = connect(endpoints).await?;
    let response = client
        .get(
            dir,
            Some(
                GetOptions::new()
                    .with_prefix()
                    .with_sort(SortTarget::Create, SortOrder::Ascend),
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut deleted = 0;
    for kv in response.kvs().iter().skip(1) {
        client
            .delete(kv.key(), None)
            .await
            .map_err(|e| e.to_string())?;
        deleted += 1;
    }
    Ok(deleted)
}

/// Runs `future` on a runtime of its own (for code outside the suite's).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(runtime.block_on(future))
}

/// Whether every member answers and names the same raft leader at the
/// same term: the cluster has settled (after a partition heals, a member
/// that kept campaigning alone comes back with a higher term and forces
/// new elections; etcd 3.4 runs without pre-vote by default).
pub async fn cluster_settled(endpoints: &[String]) -> bool {
    let mut seen = None;
    for endpoint in endpoints {
        let Ok(mut client) = connect(std::slice::from_ref(endpoint)).await else {
            return false;
        };
        let Ok(status) = client.status().await else {
            return false;
        };
        let view = (status.leader(), status.raft_term());
        if view.0 == 0 || seen.is_some_and(|s| s != view) {
            return false;
        }
        seen = Some(view);
    }
    seen.is_some()
}

/// The index (in `endpoints`) of the member that is the raft leader now.
pub async fn raft_leader(endpoints: &[String]) -> Result<usize, String> {
    for (i, endpoint) in endpoints.iter().enumerate() {
        let Ok(mut client) = connect(std::slice::from_ref(endpoint)).await else {
            continue;
        };
        let Ok(status) = client.status().await else {
            continue;
        };
        if status
            .header()
            .is_some_and(|h| h.member_id() == status.leader())
        {
            return Ok(i);
        }
    }
    Err("no member says it is the raft leader".into())
}

/// Primary changes: (time seen on `clock`, id of the new primary; "" = none).
pub type Changes = Arc<Mutex<Vec<(u128, String)>>>;

/// Watches the candidates of one namespace and records every change of
/// primary until the task is aborted. Candidate values are vinesync's JSON
/// (`"id"`); anything else counts by its raw value. Survives etcd restarts:
/// it reconnects and resumes from the next revision it needs.
pub async fn watch_primaries(
    endpoints: Vec<String>,
    dir: String,
    changes: Changes,
) -> Result<(), String> {
    let mut candidates: BTreeMap<i64, String> = BTreeMap::new();
    let mut by_key: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    let mut primary = String::new();
    // Each scenario has a cluster of its own: from revision 1 the watch
    // replays the election's whole history, however late it opens.
    let mut next_revision = 1;
    loop {
        let Ok(mut client) = connect(&endpoints).await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(next_revision);
        let Ok(mut stream) = client.watch(dir.clone(), Some(options)).await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        while let Ok(Some(response)) = stream.message().await {
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                next_revision = next_revision.max(kv.mod_revision() + 1);
                match event.event_type() {
                    EventType::Put => {
                        let id = candidate_id(kv.value());
                        candidates.insert(kv.create_revision(), id);
                        by_key.insert(kv.key().to_vec(), kv.create_revision());
                    }
                    EventType::Delete => {
                        if let Some(revision) = by_key.remove(kv.key()) {
                            candidates.remove(&revision);
                        }
                    }
                }
            }
            let now = candidates.values().next().cloned().unwrap_or_default();
            if now != primary {
                primary = now.clone();
                changes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((clock::now(), now));
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
