#![allow(clippy::print_stdout, clippy::unwrap_used)]
use std::time::{Duration, Instant};
use vinesync::{Client, LockOptions, Options};
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let c = Client::memory(Options::new()).unwrap();
    let o = LockOptions::new().ttl(Duration::from_secs(60));
    for _ in 0..1000 {
        c.lock("x", o).await.unwrap().unlock().await.unwrap();
    }
    let n = 100_000;
    let t = Instant::now();
    for _ in 0..n {
        c.lock("x", o).await.unwrap().unlock().await.unwrap();
    }
    println!("{:?} per lock+unlock", t.elapsed() / n);
}
