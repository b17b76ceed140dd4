//! Crash failover (SPEC E5): a candidate in another process (this binary,
//! `vinesync-bench candidate ...`) is primary and gets `kill -9`; the time
//! until a candidate here becomes primary is measured against the TTL.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use vinesync::{Client, LeaderOptions, Options};

use crate::stats::{Row, Samples};
use crate::Plan;

/// The candidates' lease TTL in seconds.
const TTL: i64 = 2;
/// How long a child candidate lives if nobody kills it.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

fn internal(e: impl std::fmt::Display) -> vinesync::Error {
    vinesync::Error::new(vinesync::ErrorKind::Internal, e.to_string())
}

fn leader_options(id: &str) -> LeaderOptions {
    LeaderOptions::new()
        .namespace("failover")
        .id(id)
        .ttl(Duration::from_secs(TTL as u64))
}

/// Starts a child candidate and waits until it says it is primary.
fn spawn_primary(nodes: &[String], id: &str) -> vinesync::Result<std::process::Child> {
    let exe = std::env::current_exe().map_err(internal)?;
    let mut child = Command::new(exe)
        .args(["candidate", &nodes.join(","), id])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(internal)?;
    let stdout = child.stdout.take().ok_or_else(|| internal("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(internal)?;
    if line.trim() != "primary" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(internal(format!("candidate process said {line:?}")));
    }
    Ok(child)
}

pub async fn measure(plan: &Plan, nodes: &[String]) -> vinesync::Result<Row> {
    let client = Client::etcd(
        Options::new()
            .nodes(nodes.to_vec())
            .prefix("/bench/failover"),
    )
    .await?;
    let mut samples = Samples::default();
    for round in 0..plan.failovers {
        let nodes = nodes.to_vec();
        let child_id = format!("child{round}");
        let mut child = tokio::task::spawn_blocking(move || spawn_primary(&nodes, &child_id))
            .await
            .map_err(internal)??;
        let ours = client
            .leader("svc", leader_options(&format!("here{round}")))
            .await?;
        // SIGKILL: the child dies without resigning; only its lease expiry
        // (TTL) lets the next candidate in.
        child.kill().map_err(internal)?;
        let killed = Instant::now();
        let limit = Duration::from_secs(u64::try_from(TTL).unwrap_or(2) + 10);
        tokio::time::timeout(limit, ours.wait_elected())
            .await
            .map_err(|_| internal(format!("no new primary within {limit:?} of the kill")))??;
        samples.record(killed.elapsed());
        let _ = child.wait();
        ours.resign().await?;
    }
    client.close().await;
    let mut row = samples.row(
        "etcd",
        &format!("crash (kill -9) of the primary → new primary, TTL {TTL}s"),
    );
    let bound_ns = (TTL as f64 + 1.0) * 1e9;
    row.baseline = Some("-".into());
    row.target = Some(format!("≤ TTL + 1 s ({} s)", TTL + 1));
    row.met = Some(row.p99_ns <= bound_ns);
    Ok(row)
}

/// `vinesync-bench candidate NODES ID`: joins the election, prints
/// "primary" once elected, then waits to be killed (at most CHILD_LIMIT).
pub async fn candidate(nodes: &str, id: &str) -> ExitCode {
    let options = Options::new()
        .nodes(nodes.split(',').map(String::from))
        .prefix("/bench/failover");
    let run = async {
        let client = Client::etcd(options).await?;
        let leader = client.leader("svc", leader_options(id)).await?;
        leader.wait_elected().await?;
        println!("primary");
        tokio::time::sleep(CHILD_LIMIT).await;
        Ok::<_, vinesync::Error>(())
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
