//! The seed's lock example ("分布式锁") in Rust: one handle takes `lock1`, a
//! second task on the same handle waits for it, `unlock` hands it over.
//!
//! Memory backend by default; etcd when `VINESYNC_NODES` is set:
//!     cargo run -p vinesync --example lock
//!     VINESYNC_NODES=127.0.0.1:2379 cargo run -p vinesync --example lock

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Duration;

use vinesync::{Client, LockOptions};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lock example failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> vinesync::Result<()> {
    let s = Client::from_env().await?;
    println!("backend: {s} (prefix {})", s.options().prefix);
    let ttl = LockOptions::new().ttl(Duration::from_secs(3));

    // take the lock (held by the handle, vine style, until unlock("lock1"))
    let first = s.lock("lock1", ttl).await?;
    println!("main: lock1 taken, fencing token {}", first.fencing_token());
    first.detach();

    let s2 = s.clone();
    let second = tokio::spawn(async move {
        let guard = s2.lock("lock1", ttl).await?;
        println!(
            "Locked (task 2 holds lock1, fencing token {})",
            guard.fencing_token()
        );
        Ok::<_, vinesync::Error>(guard)
    });

    // release the lock: the waiting task gets it
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.unlock("lock1").await?;
    println!("lock1 released");

    let guard = second
        .await
        .map_err(|e| vinesync::Error::new(vinesync::ErrorKind::Internal, e.to_string()))??;
    guard.unlock().await?;
    println!("task 2 released lock1");
    s.close().await;
    Ok(())
}
