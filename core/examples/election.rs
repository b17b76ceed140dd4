//! The seed's election example ("分布式选举") in Rust: join an election,
//! list its members, resign.
//!
//! Memory backend by default; etcd when `VINESYNC_NODES` is set:
//!     cargo run -p vinesync --example election

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Duration;

use vinesync::{Client, LeaderOptions, MemberOptions};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("election example failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> vinesync::Result<()> {
    let s = Client::from_env().await?;
    println!("backend: {s} (prefix {})", s.options().prefix);
    let id = uuid::Uuid::new_v4().to_string();

    // new leader
    let role1 = s
        .leader(
            "leader",
            LeaderOptions::new()
                .namespace("default")
                .id(id.as_str())
                .ttl(Duration::from_secs(3)),
        )
        .await?;
    role1.wait_elected().await?;
    println!(
        "{} is primary of namespace {}",
        role1.id(),
        role1.namespace()
    );

    // list all election members
    let members = s
        .list_members(MemberOptions::new().namespace("default"))
        .await?;
    for m in &members {
        println!("{m}");
    }

    // the member resigns
    role1.resign().await?;
    println!("{} resigned", role1.id());
    let left = s
        .list_members(MemberOptions::new().namespace("default"))
        .await?;
    println!("members after resign: {}", left.len());
    s.close().await;
    Ok(())
}
