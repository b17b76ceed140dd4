//! The README's Rust quick start, built with the other examples; the test
//! `readme_quick_start` checks that the README shows exactly this code.
//!     cargo run -p vinesync --example quick_start

#![allow(clippy::print_stdout)]

use std::time::Duration;
use vinesync::{Client, LeaderOptions, LockOptions, Options};

#[tokio::main]
async fn main() -> vinesync::Result<()> {
    // Or on etcd: Client::etcd(Options::new().nodes(["10.0.0.1:2379"])).await?
    let s = Client::memory(Options::new())?;
    let ttl = Duration::from_secs(3);

    let guard = s.lock("lock1", LockOptions::new().ttl(ttl)).await?;
    // Pass the token to the resource you guard.
    println!("token {}", guard.fencing_token());
    // Or drop the guard: it is released in the background.
    guard.unlock().await?;

    let options = LeaderOptions::new().namespace("default").ttl(ttl);
    let leader = s.leader("svc", options).await?;
    leader.wait_elected().await?;
    leader.resign().await?;

    // Shutdown: close before main returns. It waits for releases still
    // running in the background and revokes the handle's leases, so
    // whatever is still held is free for other processes at once. Work
    // spawned on a runtime that is shutting down never runs: a guard
    // dropped after `main` returns would hold its lock until the TTL.
    s.close().await;
    Ok(())
}
