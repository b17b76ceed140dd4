//! The Rust worker of the fault suite. Every language's worker speaks the
//! same protocol (see tests/faults/README.md):
//!
//!   vinesync-fault-worker lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS
//!   vinesync-fault-worker elect NAME NS TTL_S SECONDS
//!
//! with VINESYNC_NODES and VINESYNC_PREFIX in the environment. It prints
//! one line per event on stdout: HOLD token, ACK token, STALE token,
//! LOST token, ELECTED unix_ns, DEMOTED unix_ns, WATCHED id unix_ns,
//! UNWATCHING unix_ns (before it stops watching and resigns), DONE.

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use vinesync::{Client, LeaderOptions, LockOptions, Options, WatchOptions};

fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

/// Wall-clock nanoseconds: comparable between processes on one host.
fn unix_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// One request to the fenced resource: "READ token" or "WRITE token value".
fn ask(resource: &mut BufReader<TcpStream>, request: &str) -> std::io::Result<String> {
    resource
        .get_mut()
        .write_all(format!("{request}\n").as_bytes())?;
    let mut answer = String::new();
    resource.read_line(&mut answer)?;
    Ok(answer.trim().to_string())
}

async fn lock_rounds(args: &[String]) -> Result<(), String> {
    let [_, id, rounds, ttl, resource, hold_ms] = args else {
        return Err("lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS".into());
    };
    let rounds: u32 = rounds.parse().map_err(|_| "ROUNDS")?;
    let ttl = Duration::from_secs(ttl.parse().map_err(|_| "TTL_S")?);
    let hold = Duration::from_millis(hold_ms.parse().map_err(|_| "HOLD_MS")?);
    let options = Options::from_env().map_err(|e| e.to_string())?;
    let client = Client::etcd(options).await.map_err(|e| e.to_string())?;
    let stream = TcpStream::connect(resource).map_err(|e| format!("resource: {e}"))?;
    let mut resource = BufReader::new(stream);
    let lock = LockOptions::new().ttl(ttl);
    for _ in 0..rounds {
        let guard = client.lock(id, lock).await.map_err(|e| e.to_string())?;
        let token = guard.fencing_token();
        say(&format!("HOLD {token}"));
        let read = ask(&mut resource, &format!("READ {token}")).map_err(|e| e.to_string())?;
        let answer = match read
            .strip_prefix("VALUE ")
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(value) => {
                tokio::time::sleep(hold).await; // the critical section (a pause lands here)
                ask(&mut resource, &format!("WRITE {token} {}", value + 1))
                    .map_err(|e| e.to_string())?
            }
            None => read, // turned away already at the read
        };
        if answer == "OK" {
            say(&format!("ACK {token}"));
        } else {
            say(&format!("STALE {token}"));
        }
        // A holder that was paused or cut off past its TTL must learn it
        // lost the lock; the release of a lost lock reports Lost too.
        let lost = guard.is_lost()
            || (answer != "OK"
                && tokio::time::timeout(Duration::from_secs(5), guard.lost())
                    .await
                    .is_ok());
        let released = if lost { Ok(()) } else { guard.unlock().await };
        match released {
            Ok(()) if !lost => {}
            Err(e) if e.kind() != vinesync::ErrorKind::Lost => return Err(e.to_string()),
            _ => say(&format!("LOST {token}")),
        }
    }
    client.close().await;
    Ok(())
}

async fn elect(args: &[String]) -> Result<(), String> {
    let [name, ns, ttl, seconds] = args else {
        return Err("elect NAME NS TTL_S SECONDS".into());
    };
    let ttl: i64 = ttl.parse().map_err(|_| "TTL_S")?;
    let seconds: u64 = seconds.parse().map_err(|_| "SECONDS")?;
    let options = Options::from_env().map_err(|e| e.to_string())?;
    let client = Client::etcd(options).await.map_err(|e| e.to_string())?;
    let mut watcher = client
        .watch_elect(WatchOptions::new().namespace(ns.as_str()))
        .await
        .map_err(|e| e.to_string())?;
    let leader = client
        .leader(
            "faults",
            LeaderOptions::new()
                .namespace(ns.as_str())
                .id(name.as_str())
                .ttl(Duration::from_secs(u64::try_from(ttl).unwrap_or(1))),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut status = leader.status();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::select! {
            () = tokio::time::sleep(left) => break,
            change = status.next() => match change {
                Some(true) => say(&format!("ELECTED {}", unix_ns())),
                Some(false) => say(&format!("DEMOTED {}", unix_ns())),
                None => {}
            },
            event = watcher.next() => {
                let event = event
                    .ok_or_else(|| "the election watch ended".to_string())?
                    .map_err(|e| e.to_string())?;
                if event.kind == vinesync::ElectEventKind::Elected {
                    say(&format!("WATCHED {} {}", event.member.id, unix_ns()));
                }
            }
        }
    }
    // Stop watching first: the suite expects every change before this line.
    say(&format!("UNWATCHING {}", unix_ns()));
    watcher.close();
    leader.resign().await.map_err(|e| e.to_string())?;
    client.close().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("lock") => lock_rounds(&args[1..]).await,
        Some("elect") => elect(&args[1..]).await,
        _ => Err("usage: vinesync-fault-worker lock|elect ...".into()),
    };
    match outcome {
        Ok(()) => {
            say("DONE");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("vinesync-fault-worker: {error}");
            ExitCode::FAILURE
        }
    }
}
