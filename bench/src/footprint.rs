//! Footprint: resident memory per held lock and per parked waiter (many of
//! each in one process), and the threads the library starts. Read from
//! /proc/self/status (Linux), as differences around each measurement. Each
//! measurement runs in a fresh child process (`vinesync-bench footprint`),
//! so memory freed by earlier measurements cannot hide its growth.

use std::time::Duration;

use vinesync::{Client, LockGuard, LockOptions, MemoryStore, Options};

use crate::stats::Row;

fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Resident memory of this process in bytes.
fn rss_bytes() -> u64 {
    status_field("VmRSS:").unwrap_or(0) * 1024
}

/// Threads of this process.
pub fn threads() -> u64 {
    status_field("Threads:").unwrap_or(0)
}

fn per_item(before: u64, after: u64, n: usize) -> String {
    let bytes = after.saturating_sub(before) as f64 / n as f64;
    format!("{bytes:.0} B each ({n} in one process)")
}

fn options() -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(60))
}

/// Bytes per held lock: `n` locks on distinct ids, all held at once.
async fn held(client: &Client, n: usize) -> vinesync::Result<(String, u64)> {
    let before = rss_bytes();
    let mut guards: Vec<LockGuard> = Vec::with_capacity(n);
    // A few acquisitions in flight at a time (etcd: one round trip each).
    let mut i = 0;
    while i < n {
        let batch: Vec<_> = (i..(i + 64).min(n))
            .map(|j| {
                let client = client.clone();
                tokio::spawn(async move { client.lock(&format!("fp-held-{j}"), options()).await })
            })
            .collect();
        for task in batch {
            guards.push(task.await.map_err(internal)??);
        }
        i += 64;
    }
    let after = rss_bytes();
    let threads_held = threads();
    for guard in guards {
        guard.unlock().await?;
    }
    Ok((per_item(before, after, n), threads_held))
}

/// Waiters per lock in the parked measurement: every acquisition reads
/// its queue (etcd 3.4 reads a whole directory for a sorted range), so one
/// queue of 10 000 would measure etcd's O(n²) work, not our footprint.
const WAITERS_PER_LOCK: usize = 100;

/// Bytes per parked waiter: `n` acquisitions queued behind holders,
/// [`WAITERS_PER_LOCK`] per lock.
async fn parked(client: &Client, n: usize) -> vinesync::Result<String> {
    let locks = n.div_ceil(WAITERS_PER_LOCK);
    let mut holders = Vec::with_capacity(locks);
    for l in 0..locks {
        holders.push(client.lock(&format!("fp-busy-{l}"), options()).await?);
    }
    let before = rss_bytes();
    let waiters: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            let id = format!("fp-busy-{}", i % locks);
            tokio::spawn(async move { client.lock(&id, options()).await })
        })
        .collect();
    // Parked = every waiter's key is in its queue (and its watch open).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let mut queued = 0;
    while queued < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(all) = client.locks().await {
            queued = all.iter().map(|info| info.waiters.len()).sum();
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let result = if queued < n {
        format!("only {queued} of {n} waiters parked within 180 s")
    } else {
        format!(
            "{} ({WAITERS_PER_LOCK} per lock)",
            per_item(before, rss_bytes(), n)
        )
    };
    // Cancelled waiters remove their keys (in the background).
    for waiter in &waiters {
        waiter.abort();
    }
    for waiter in waiters {
        let _ = waiter.await;
    }
    // Under load a holder's lease can lapse; the measurement is taken.
    for holder in holders {
        if let Err(error) = holder.unlock().await {
            eprintln!("footprint: releasing a holder: {error}");
        }
    }
    Ok(result)
}

fn internal(e: impl std::fmt::Display) -> vinesync::Error {
    vinesync::Error::new(vinesync::ErrorKind::Internal, e.to_string())
}

async fn client(nodes: Option<&[String]>) -> vinesync::Result<Client> {
    match nodes {
        Some(nodes) => {
            Client::etcd(
                Options::new()
                    .nodes(nodes.to_vec())
                    .prefix("/bench/footprint"),
            )
            .await
        }
        None => Client::with_memory_store(MemoryStore::new(), Options::new()),
    }
}

/// Child mode: one measurement (`held`, `parked` or `threads`) of `n` on
/// the etcd at `VINESYNC_NODES` (`etcd`) or a memory store; prints its
/// result on one line.
pub async fn child(backend: &str, what: &str, n: usize) -> vinesync::Result<String> {
    let nodes: Option<Vec<String>> = (backend == "etcd").then(|| {
        std::env::var("VINESYNC_NODES")
            .unwrap_or_default()
            .split(',')
            .map(String::from)
            .collect()
    });
    let threads_before = threads();
    let client = client(nodes.as_deref()).await?;
    // One lock taken and released: the session and its keepalive exist.
    client.lock("fp-warm", options()).await?.unlock().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = threads().saturating_sub(threads_before);
    let line = match what {
        "held" => held(&client, n).await?.0,
        "parked" => parked(&client, n).await?,
        _ => {
            let (_, with_locks) = held(&client, n).await?;
            format!(
                "{idle} {}",
                with_locks.saturating_sub(threads_before + idle)
            )
        }
    };
    client.close().await;
    Ok(line)
}

fn run_child(backend: &str, what: &str, n: usize) -> vinesync::Result<String> {
    let exe = std::env::current_exe().map_err(internal)?;
    let output = std::process::Command::new(exe)
        .args(["footprint", backend, what, &n.to_string()])
        .output()
        .map_err(internal)?;
    if !output.status.success() {
        return Err(internal(format!(
            "footprint {backend} {what}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The footprint rows of one backend (`etcd` when `etcd` is set).
pub async fn run(n: usize, etcd: bool) -> vinesync::Result<Vec<Row>> {
    let section = if etcd { "etcd" } else { "memory" };
    // A failed measurement is shown as such; it does not stop the bench.
    let measure = |what: &'static str| async move {
        match tokio::task::spawn_blocking(move || run_child(section, what, n)).await {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => format!("failed: {error}"),
            Err(error) => format!("failed: {error}"),
        }
    };
    let held_bytes = measure("held").await;
    let parked_bytes = measure("parked").await;
    let threads_line = measure("threads").await;
    let mut counts = threads_line.split_whitespace().map(|c| c.parse::<u64>());
    let (Some(Ok(idle)), Some(Ok(extra))) = (counts.next(), counts.next()) else {
        return Ok(vec![
            Row::note(section, "footprint: RSS per held lock", held_bytes),
            Row::note(section, "footprint: RSS per parked waiter", parked_bytes),
            Row::note(section, "footprint: threads", threads_line),
        ]);
    };
    let mut rows = vec![
        Row::note(section, "footprint: RSS per held lock", held_bytes),
        Row::note(
            section,
            "footprint: RSS per parked waiter (incl. its task)",
            parked_bytes,
        ),
        Row::note(
            section,
            "footprint: library threads, idle",
            format!("{idle} (threads one client added)"),
        ),
    ];
    let mut per_lock = Row::note(
        section,
        "footprint: threads added by held locks",
        format!("{extra} with {n} locks held"),
    );
    per_lock.target = Some("no thread per lock".into());
    per_lock.met = Some(extra == 0);
    per_lock.baseline = Some("-".into());
    rows.push(per_lock);
    Ok(rows)
}
