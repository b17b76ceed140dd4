//! The memory backend against an in-process floor measured in the same run:
//! a mutex-guarded map of held ids plus a fencing counter — the least an
//! in-process lock with tokens can do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vinesync::{Client, LockOptions, MemoryStore, Options};

use crate::handoff::handoff;
use crate::stats::{Row, Samples};
use crate::Plan;

const SECTION: &str = "memory";

pub fn lock_options() -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(60))
}

/// The floor: lock = insert the id with a new token if absent; unlock = remove.
fn floor(plan: &Plan) -> Samples {
    let held: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    let tokens = AtomicU64::new(0);
    let id = "bench".to_string();
    let mut samples = Samples::default();
    for _ in 0..plan.batches {
        let started = Instant::now();
        for _ in 0..plan.batch {
            {
                let mut map = held.lock().unwrap_or_else(|p| p.into_inner());
                if !map.contains_key(&id) {
                    let token = tokens.fetch_add(1, Ordering::Relaxed) + 1;
                    map.insert(id.clone(), token);
                }
            }
            {
                let mut map = held.lock().unwrap_or_else(|p| p.into_inner());
                std::hint::black_box(map.remove(&id));
            }
        }
        samples.record_batch(started.elapsed(), plan.batch);
    }
    samples
}

async fn uncontended(plan: &Plan) -> vinesync::Result<Samples> {
    let client = Client::with_memory_store(MemoryStore::new(), Options::new())?;
    for _ in 0..plan.batch {
        client.lock("bench", lock_options()).await?.unlock().await?;
    }
    let mut samples = Samples::default();
    for _ in 0..plan.batches {
        let started = Instant::now();
        for _ in 0..plan.batch {
            client.lock("bench", lock_options()).await?.unlock().await?;
        }
        samples.record_batch(started.elapsed(), plan.batch);
    }
    client.close().await;
    Ok(samples)
}

pub async fn run(plan: &Plan) -> vinesync::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let floor_row = floor(plan).row(SECTION, "floor: mutex map + fencing counter");
    let floor_name = floor_row.name.clone();
    let floor_median = floor_row.median_ns;
    rows.push(floor_row);

    let mut rust = uncontended(plan)
        .await?
        .row(SECTION, "vinesync memory lock+unlock (Rust)");
    // Target: at most 3× the floor's time, i.e. speed ≥ 1/3.
    crate::compare(
        &mut rust,
        &floor_name,
        floor_median,
        "≤ 3× floor time",
        |speed| speed >= 1.0 / 3.0,
    );
    rows.push(rust);

    let store = MemoryStore::new();
    let mut one_waiter_p99 = f64::NAN;
    for waiters in [1usize, 10, 100, 1000] {
        let prefix = format!("/bench/handoff{waiters}");
        let clients = (0..=waiters)
            .map(|_| {
                Client::with_memory_store(store.clone(), Options::new().prefix(prefix.clone()))
            })
            .collect::<vinesync::Result<Vec<_>>>()?;
        let samples = handoff(clients, plan.handoffs.max(2 * waiters)).await?;
        let mut row = samples.row(
            SECTION,
            &if waiters == 1 {
                "handoff, 1 waiter".to_string()
            } else {
                format!("handoff, {waiters} waiters")
            },
        );
        if waiters == 1 {
            one_waiter_p99 = row.p99_ns;
        } else if waiters == 1000 {
            crate::compare_p99(&mut row, "handoff, 1 waiter", one_waiter_p99, 1.5);
        }
        rows.push(row);
    }
    Ok(rows)
}
