//! The memory backend against an in-process floor measured in the same run:
//! a mutex-guarded map of held ids plus a fencing counter — the least an
//! in-process lock with tokens can do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vinesync::{Client, LockOptions, MemoryStore, Options};

use crate::stats::{Row, Samples};
use crate::Plan;

const SECTION: &str = "memory";

fn lock_options() -> LockOptions {
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

/// Handoff latency with all but one of `clients` always queued: time from
/// one holder's unlock to the next holder's acquisition (one task a client).
///
/// `handoffs` acquisitions are counted, after the first `clients.len()`
/// ones, about one round (until then the queue is still forming: fewer
/// waiters, and their creates compete with the handoffs). After the
/// counted ones every client leaves the queue once it has had its turn;
/// those last handoffs, with ever fewer waiters behind them, are not
/// counted either. A client is closed only after every task has ended, so
/// no handoff includes a client's teardown.
pub async fn handoff(clients: Vec<Client>, handoffs: usize) -> vinesync::Result<Samples> {
    let released_at = Arc::new(Mutex::new(None::<Instant>));
    let samples = Arc::new(Mutex::new(Samples::default()));
    let acquired = Arc::new(AtomicU64::new(0));
    // When the first and the last counted acquisitions happened.
    let window = Arc::new(Mutex::new((None::<Instant>, None::<Instant>)));
    let first_counted = clients.len() as u64;
    let last_counted = first_counted + handoffs as u64 - 1;
    let mut tasks = Vec::new();
    for client in clients {
        let (released_at, samples, acquired, window) = (
            released_at.clone(),
            samples.clone(),
            acquired.clone(),
            window.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let guard = client.lock("handoff", lock_options()).await?;
                let now = Instant::now();
                let released = released_at.lock().unwrap_or_else(|p| p.into_inner()).take();
                let n = acquired.fetch_add(1, Ordering::AcqRel);
                let counted = (first_counted..=last_counted).contains(&n);
                if n == first_counted || n == last_counted {
                    let mut window = window.lock().unwrap_or_else(|p| p.into_inner());
                    if n == first_counted {
                        window.0 = Some(now);
                    } else {
                        window.1 = Some(now);
                    }
                }
                if let Some(released) = released.filter(|_| counted) {
                    samples
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .record(now - released);
                }
                *released_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                guard.unlock().await?;
                if n >= last_counted {
                    return Ok::<_, vinesync::Error>(client);
                }
            }
        }));
    }
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await.map_err(|e| {
            vinesync::Error::new(vinesync::ErrorKind::Internal, format!("bench task: {e}"))
        })??);
    }
    drop(finished);
    let mut samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // Throughput over the counted window: handoffs - 1 handoffs between its
    // first and its last acquisition.
    if let (Some(first), Some(last)) = *window.lock().unwrap_or_else(|p| p.into_inner()) {
        samples.set_throughput(last - first, handoffs.saturating_sub(1) as u64);
    }
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
