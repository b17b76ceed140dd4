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

    // Handoffs between tasks of one thread measure the library; on a
    // multi-thread runtime the scheduler moves the two tasks of a handoff
    // between workers now and then (tokio stops preferring the task just
    // woken after a few in a row), and a cross-thread wake-up costs more
    // than the handoff itself, so those rows are shown for reference.
    let store = MemoryStore::new();
    let mut one_waiter_p99 = f64::NAN;
    for waiters in [1usize, 10, 100, 1000] {
        let samples = handoff_on_own_runtime(&store, waiters, plan, Workers::One)?;
        let mut row = samples.row(SECTION, &handoff_name(waiters, ""));
        if waiters == 1 {
            one_waiter_p99 = row.p99_ns;
        } else if waiters == 1000 {
            crate::compare_p99(&mut row, "handoff, 1 waiter", one_waiter_p99, 1.5);
        }
        rows.push(row);
    }
    for waiters in [1usize, 1000] {
        let samples = handoff_on_own_runtime(&store, waiters, plan, Workers::Two)?;
        rows.push(samples.row(SECTION, &handoff_name(waiters, ", 2 worker threads")));
    }
    Ok(rows)
}

/// The runtime a handoff measurement runs on.
#[derive(Clone, Copy)]
enum Workers {
    /// A current-thread runtime: every task on one thread.
    One,
    /// A multi-thread runtime with two workers.
    Two,
}

fn handoff_name(waiters: usize, suffix: &str) -> String {
    if waiters == 1 {
        format!("handoff, 1 waiter{suffix}")
    } else {
        format!("handoff, {waiters} waiters{suffix}")
    }
}

/// Memory handoffs with `waiters` waiters on a runtime of their own, on a
/// thread of its own (the bench's runtime cannot host another one).
fn handoff_on_own_runtime(
    store: &MemoryStore,
    waiters: usize,
    plan: &Plan,
    workers: Workers,
) -> vinesync::Result<Samples> {
    let internal = |e: String| vinesync::Error::new(vinesync::ErrorKind::Internal, e);
    let name = handoff_name(waiters, "");
    let prefix = format!("/bench/handoff{waiters}-{}", workers as u8);
    std::thread::scope(|scope| {
        let measured = scope.spawn(|| {
            let runtime = match workers {
                Workers::One => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build(),
                Workers::Two => tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build(),
            }
            .map_err(|e| internal(format!("starting a runtime: {e}")))?;
            runtime.block_on(async {
                let clients = (0..=waiters)
                    .map(|_| {
                        Client::with_memory_store(
                            store.clone(),
                            Options::new().prefix(prefix.clone()),
                        )
                    })
                    .collect::<vinesync::Result<Vec<_>>>()?;
                let measured = handoff(clients.clone(), plan.handoffs.max(2 * waiters)).await;
                // Closed while this runtime runs: a dropped client's lease
                // revoke would be spawned on it as it shuts down.
                for client in clients {
                    client.close().await;
                }
                measured
            })
        });
        measured
            .join()
            .map_err(|_| internal(format!("{name}: the measuring thread panicked")))?
    })
}
