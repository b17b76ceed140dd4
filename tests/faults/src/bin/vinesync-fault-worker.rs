//! The Rust worker of the fault suite. Every language's worker speaks the
//! same protocol (see tests/faults/README.md):
//!
//!   vinesync-fault-worker lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS
//!   vinesync-fault-worker elect NAME NS TTL_S SECONDS
//!
//! with VINESYNC_NODES and VINESYNC_PREFIX in the environment. It prints
//! one line per event on stdout, stamped with CLOCK_MONOTONIC nanoseconds
//! (one clock for every process on the host): HOLD token t, ACK token,
//! STALE token, RELEASE token t, RELEASED token t, LOST token t, GAVE-UP t,
//! WATCHING t, ELECTED t, DEMOTED t, WATCHED id t, UNWATCHING t, IDLE t,
//! DONE. A candidate campaigns until the suite writes a line (STOP) to its
//! stdin, or for at most SECONDS; after IDLE it keeps its connection open
//! until stdin closes, so the suite can look for leaks while the process
//! lives.
//!
//! VINESYNC_FAULTS_SHORT_WAIT_MS (default 30; 0 = none) is the short
//! `wait` each round tries first.
//!
//! VINESYNC_FAULTS_MUTANT makes it a deliberately broken worker for the
//! suite's mutant run: `acts-after-release`, `ignores-lost`,
//! `primary-after-demotion`, `watch-misses-others`.

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use vinesync::{Client, ErrorKind, LeaderOptions, LockOptions, Options, WatchOptions};

fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

/// CLOCK_MONOTONIC in nanoseconds: the suite's clock too.
fn now() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u128::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u128::try_from(ts.tv_nsec).unwrap_or(0)
}

/// The short wait each round tries first (None: go straight to waiting).
fn short_wait() -> Option<Duration> {
    let ms = std::env::var("VINESYNC_FAULTS_SHORT_WAIT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(30);
    (ms > 0).then(|| Duration::from_millis(ms))
}

fn mutant(name: &str) -> bool {
    std::env::var("VINESYNC_FAULTS_MUTANT").is_ok_and(|m| m == name)
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

/// Read, wait (the critical section, where a pause lands), write read+1.
async fn increment(
    resource: &mut BufReader<TcpStream>,
    token: u64,
    hold: Duration,
) -> Result<bool, String> {
    let read = ask(resource, &format!("READ {token}")).map_err(|e| e.to_string())?;
    let Some(value) = read
        .strip_prefix("VALUE ")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Ok(false); // turned away already at the read
    };
    tokio::time::sleep(hold).await;
    let written =
        ask(resource, &format!("WRITE {token} {}", value + 1)).map_err(|e| e.to_string())?;
    Ok(written == "OK")
}

async fn lock_rounds(client: &Client, args: &[String]) -> Result<(), String> {
    let [_, id, rounds, ttl, resource, hold_ms] = args else {
        return Err("lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS".into());
    };
    let rounds: u32 = rounds.parse().map_err(|_| "ROUNDS")?;
    let ttl = Duration::from_secs(ttl.parse().map_err(|_| "TTL_S")?);
    let hold = Duration::from_millis(hold_ms.parse().map_err(|_| "HOLD_MS")?);
    let stream = TcpStream::connect(resource).map_err(|e| format!("resource: {e}"))?;
    let mut resource = BufReader::new(stream);
    let lock = LockOptions::new().ttl(ttl);
    for _ in 0..rounds {
        // First a short wait that often runs out: a cancelled acquisition
        // in a live process, whose waiter key must go at once (SPEC L8).
        let first = match short_wait() {
            Some(wait) => client.lock(id, lock.wait(wait)).await,
            None => client.lock(id, lock).await,
        };
        let guard = match first {
            Ok(guard) => guard,
            Err(e) if e.kind() == ErrorKind::LockTimeout => {
                say(&format!("GAVE-UP {}", now()));
                client.lock(id, lock).await.map_err(|e| e.to_string())?
            }
            Err(e) => return Err(e.to_string()),
        };
        let token = guard.fencing_token();
        say(&format!("HOLD {token} {}", now()));
        if mutant("acts-after-release") {
            say(&format!("RELEASE {token} {}", now()));
            guard.unlock().await.map_err(|e| e.to_string())?;
            say(&format!("RELEASED {token} {}", now()));
            let ok = increment(&mut resource, token, hold).await?;
            say(&format!("{} {token}", if ok { "ACK" } else { "STALE" }));
            continue;
        }
        let ok = increment(&mut resource, token, hold).await?;
        say(&format!("{} {token}", if ok { "ACK" } else { "STALE" }));
        // A holder that was paused or cut off past its TTL must learn it
        // lost the lock. The other workers ask the lost signal first (SPEC
        // L6); this one relies on the release alone, which must find its
        // key gone and say Lost (SPEC L7).
        say(&format!("RELEASE {token} {}", now()));
        match guard.unlock().await {
            Ok(()) => say(&format!("RELEASED {token} {}", now())),
            Err(e) if e.kind() == ErrorKind::Lost && mutant("ignores-lost") => {
                say(&format!("RELEASED {token} {}", now()));
            }
            Err(e) if e.kind() == ErrorKind::Lost => say(&format!("LOST {token} {}", now())),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

async fn elect(client: &Client, args: &[String]) -> Result<(), String> {
    let [name, ns, ttl, seconds] = args else {
        return Err("elect NAME NS TTL_S SECONDS".into());
    };
    let ttl = Duration::from_secs(ttl.parse().map_err(|_| "TTL_S")?);
    let seconds: u64 = seconds.parse().map_err(|_| "SECONDS")?;
    let mut watcher = client
        .watch_elect(WatchOptions::new().namespace(ns.as_str()))
        .await
        .map_err(|e| e.to_string())?;
    say(&format!("WATCHING {}", now()));
    let options = LeaderOptions::new()
        .namespace(ns.as_str())
        .id(name.as_str())
        .ttl(ttl);
    let mut leader = client
        .leader("faults", options.clone())
        .await
        .map_err(|e| e.to_string())?;
    let mut status = leader.status();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // The suite says when to stop (a line on stdin); SECONDS is the limit.
    // A plain thread, not `spawn_blocking`: the runtime's shutdown would
    // wait for that read, and a worker whose election failed must exit.
    let (stop_tx, mut told_to_stop) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_line(&mut String::new());
        let _ = stop_tx.send(());
    });
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // In this order when several are ready: a watch event that came
        // before the stop is reported before this worker stops watching.
        tokio::select! {
            biased;
            event = watcher.next() => {
                let event = event
                    .ok_or_else(|| "the election watch ended".to_string())?
                    .map_err(|e| e.to_string())?;
                let missed = mutant("watch-misses-others") && event.member.id != *name;
                if event.kind == vinesync::ElectEventKind::Elected && !missed {
                    say(&format!("WATCHED {} {}", event.member.id, now()));
                }
            }
            change = status.next() => match change {
                Some(true) => say(&format!("ELECTED {}", now())),
                Some(false) if mutant("primary-after-demotion") => {}
                Some(false) => say(&format!("DEMOTED {}", now())),
                // The candidacy ended (its lease was lost): a real service
                // runs again.
                None => {
                    leader = client
                        .leader("faults", options.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                    status = leader.status();
                }
            },
            _ = &mut told_to_stop => break,
            () = tokio::time::sleep(left) => break,
        }
    }
    // Stop watching first: the suite expects every change before this line.
    say(&format!("UNWATCHING {}", now()));
    watcher.close();
    match leader.resign().await {
        Err(e) if e.kind() != ErrorKind::Lost => Err(e.to_string()),
        _ => Ok(()),
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let options = Options::from_env().map_err(|e| e.to_string())?;
    let client = Client::etcd(options).await.map_err(|e| e.to_string())?;
    match args.first().map(String::as_str) {
        Some("lock") => lock_rounds(&client, &args[1..]).await?,
        Some("elect") => elect(&client, &args[1..]).await?,
        _ => return Err("usage: vinesync-fault-worker lock|elect ...".into()),
    }
    // Alive and idle until the suite closes stdin: it checks for leaks now.
    say(&format!("IDLE {}", now()));
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
    client.close().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
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
