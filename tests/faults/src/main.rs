//! `vinesync-faults`: the fault and cross-language suite (see README.md).
//! Runs every scenario, prints the summary table and writes it to
//! `--out DIR` (summary.txt, summary.json); exits non-zero if any scenario
//! broke a rule. `--bounded` is the short form `make test` runs.

#![allow(clippy::print_stdout)]

mod clock;
mod election;
mod etcd;
mod history;
mod lease_metrics;
mod mutants;
mod report;
mod resource;
mod scenario;
mod schedule;
mod worker;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use election::ElectionFault;
use report::Report;
use scenario::{Context, LockPlan, Stage};
use vinesync_testkit::ProxyMode;
use worker::{wait_until, Language};

use Language::{Go, Python, Rust, C};

/// A fault, injected while the workers run.
pub(crate) type Fault = Box<dyn FnOnce(&mut Stage<'_>)>;

pub(crate) fn lock_scenarios(bounded: bool) -> Vec<(LockPlan, Fault)> {
    let rounds = if bounded { 12 } else { 40 };
    vec![
        (
            LockPlan {
                name: "mixed: 4 languages, no fault",
                members: 1,
                workers: vec![Rust, C, Python, Go, Rust],
                rounds,
                hold_ms: 2,
                ttl_s: 5,
                proxied: None,
            },
            Box::new(|_| {}),
        ),
        (
            LockPlan {
                name: "kill -9 of the holder",
                members: 1,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 50,
                ttl_s: 2,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(3);
                match stage.holder() {
                    Some(i) => stage.kill(i, libc::SIGKILL),
                    None => stage.problem("no holder to kill"),
                }
            }),
        ),
        (
            LockPlan {
                name: "SIGSTOP of the holder past its TTL",
                members: 1,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 300,
                ttl_s: 2,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(2);
                let Some(i) = stage.holder() else {
                    stage.problem("no holder to pause");
                    return;
                };
                // Past the TTL: the lease expires and someone else writes.
                let since = clock::now();
                if !stage.pause(i, Duration::from_secs(2 + 2)) {
                    stage.problem("nobody else wrote while the holder was paused");
                }
                stage.expect_taken_over(i, since);
                stage.expect_fenced_out(i);
            }),
        ),
        (
            LockPlan {
                name: "SIGSTOP of a waiter past its TTL",
                members: 1,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 300,
                ttl_s: 2,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(2);
                // A waiter (not the holder) stops past its TTL: its key
                // expires while the queue moves on. Resumed, it must not be
                // told it holds the lock (SPEC L9): the history checker
                // catches an overlap or a token lower than an earlier one.
                let Some(i) = stage.pick(|w| !w.is_holding() && w.count("HOLD") > 0) else {
                    stage.problem("no waiter to pause");
                    return;
                };
                if !stage.pause(i, Duration::from_secs(2 + 2)) {
                    stage.problem("nobody wrote while the waiter was paused");
                }
            }),
        ),
        (
            LockPlan {
                name: "waiters' keys deleted by someone else",
                members: 1,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 200,
                ttl_s: 5,
                proxied: None,
            },
            Box::new(|stage| {
                // While someone holds the lock, every waiter's key goes (as
                // if its lease had expired). Each waiter must find out when
                // its turn seems to come and queue again (SPEC L9), not
                // take the lock: the history checker catches two holders.
                let mut deleted = 0;
                for round in 1..=4 {
                    stage.wait_acks(3 * round);
                    // The target language waiting, someone else holding.
                    let waiting = stage.pick(|w| !w.is_holding() && w.count("HOLD") > 0);
                    let workers: &Vec<worker::Worker> = stage.workers;
                    let held = wait_until(Duration::from_secs(10), || {
                        workers.iter().any(worker::Worker::is_holding)
                    });
                    if waiting.is_none() || !held {
                        stage.problem("no holder and waiter while deleting the waiters' keys");
                        return;
                    }
                    match etcd::block_on(etcd::delete_waiters(
                        &stage.cluster.endpoints(),
                        &stage.lock_dir,
                    )) {
                        Ok(Ok(n)) => deleted += n,
                        Ok(Err(e)) | Err(e) => stage.problem(format!("deleting waiter keys: {e}")),
                    }
                }
                eprintln!("vinesync-faults: deleted {deleted} waiter keys");
                if deleted == 0 {
                    stage.problem("there was never a waiter key to delete");
                }
            }),
        ),
        (
            LockPlan {
                name: "Ctrl-C of a waiter",
                members: 1,
                workers: vec![Python, Rust, Go, Python],
                rounds,
                hold_ms: 100,
                ttl_s: 6,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(2);
                // A Python waiter (not the holder) gets SIGINT.
                let target = stage
                    .workers
                    .iter()
                    .position(|w| w.language == Python && !w.is_holding());
                let Some(i) = target else {
                    stage.problem("no waiting Python worker to interrupt");
                    return;
                };
                let interrupted = clock::now();
                stage.kill(i, libc::SIGINT);
                // Python dies of the SIGINT it re-raises (or exits 130):
                // promptly, and not by a crash.
                match stage.workers[i].wait(Duration::from_secs(10)) {
                    Ok(status)
                        if status.signal() == Some(libc::SIGINT) || status.code() == Some(130) => {}
                    Ok(status) => stage.report.fail(
                        "ctrl-c-exit",
                        format!("the interrupted worker exited with {status}"),
                    ),
                    Err(e) => stage.problem(format!("waiting for the interrupted worker: {e}")),
                }
                // The queue goes on at once, not after the interrupted
                // waiter's TTL (its key went with the cancel).
                let acks = stage.acks();
                stage.wait_acks(acks + 4);
                let handoff = scenario::max_handoff(stage.workers, interrupted);
                // 4 s: well below the 6 s TTL a left-behind key would add.
                if handoff.is_none_or(|ms| ms > 4000) {
                    stage.report.fail(
                        "ctrl-c-handoff",
                        format!("after the Ctrl-C the next holder waited {handoff:?} ms (TTL 6 s)"),
                    );
                }
            }),
        ),
        (
            LockPlan {
                name: "restart of a single etcd",
                members: 1,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 20,
                ttl_s: 5,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(5);
                if let Err(e) = stage.cluster.restart_member(0) {
                    stage.problem(format!("restarting etcd: {e}"));
                }
            }),
        ),
        (
            LockPlan {
                name: "kill + restart of a member (3)",
                members: 3,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 20,
                ttl_s: 5,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(5);
                let _ = stage.cluster.kill_member(0);
                std::thread::sleep(Duration::from_secs(2));
                if let Err(e) = stage.cluster.restart_member(0) {
                    stage.problem(format!("restarting member 0: {e}"));
                }
            }),
        ),
        (
            LockPlan {
                name: "loss of quorum and its return (3)",
                members: 3,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 20,
                ttl_s: 10,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(5);
                let _ = stage.cluster.stop_member(1);
                let _ = stage.cluster.stop_member(2);
                std::thread::sleep(Duration::from_secs(3));
                for i in [1, 2] {
                    if let Err(e) = stage.cluster.restart_member(i) {
                        stage.problem(format!("restarting member {i}: {e}"));
                    }
                }
            }),
        ),
        (
            LockPlan {
                name: "partition of the raft leader from the other members (3)",
                members: 3,
                workers: vec![Rust, Python, Go, C],
                rounds,
                hold_ms: 20,
                ttl_s: 10,
                proxied: None,
            },
            Box::new(|stage| {
                stage.wait_acks(5);
                let before = stage.acks();
                let outcome = scenario::hit_raft_leader(stage.cluster, scenario::isolate_member_3s);
                if let Err(e) = outcome {
                    stage.problem(e);
                }
                // The majority side serves: the queue moves on.
                if !stage.wait_acks(before + 5) {
                    stage.problem("no progress after the partition");
                }
            }),
        ),
        (
            LockPlan {
                name: "partition of the holder (stall)",
                members: 1,
                workers: vec![Go, Rust, Python, C],
                rounds: 3,
                hold_ms: 2500,
                ttl_s: 2,
                proxied: Some(0),
            },
            Box::new(|stage| {
                // Wait until the worker behind the proxy holds the lock.
                let held = wait_until(Duration::from_secs(60), || stage.workers[0].is_holding());
                let Some(proxy) = stage.proxy.as_ref().filter(|_| held) else {
                    stage.problem("the proxied worker never held the lock");
                    return;
                };
                let start = clock::now();
                proxy.set(ProxyMode::Stall);
                let holds = |ws: &Vec<worker::Worker>| {
                    ws[1..].iter().map(|w| w.count("HOLD")).sum::<usize>()
                };
                let before = holds(stage.workers);
                std::thread::sleep(Duration::from_secs(2 + 2));
                // Stalled until someone else took the lock (at most 16 s
                // more: slow on a loaded machine).
                let workers: &Vec<worker::Worker> = stage.workers;
                let others_took_it =
                    wait_until(Duration::from_secs(16), || holds(workers) > before);
                proxy.set(ProxyMode::Pass);
                stage.faults.push(history::FaultWindow {
                    worker: 0,
                    start,
                    end: clock::now(),
                });
                if !others_took_it {
                    stage.problem("nobody else took the lock while the holder was cut off");
                }
                stage.expect_taken_over(0, start);
                stage.expect_fenced_out(0);
            }),
        ),
        (
            LockPlan {
                name: "connections dropped (proxy)",
                members: 1,
                workers: vec![Go, Rust, Python, C],
                rounds,
                hold_ms: 20,
                ttl_s: 5,
                proxied: Some(0),
            },
            Box::new(|stage| {
                stage.wait_acks(5);
                if let Some(proxy) = stage.proxy.as_ref() {
                    let start = clock::now();
                    proxy.set(ProxyMode::Drop);
                    std::thread::sleep(Duration::from_secs(2));
                    proxy.set(ProxyMode::Pass);
                    stage.faults.push(history::FaultWindow {
                        worker: 0,
                        start,
                        end: clock::now(),
                    });
                }
            }),
        ),
    ]
}

/// The election scenarios: (name, members, fault).
pub(crate) fn election_scenarios() -> Vec<(&'static str, usize, ElectionFault)> {
    use ElectionFault::{
        KillMember, KillPrimary, PartitionRaftLeader, PausePrimary, PauseRaftLeader, QuorumLoss,
        RestartEtcd,
    };
    vec![
        ("election: kill -9 of the primary", 1, KillPrimary),
        (
            "election: SIGSTOP of the primary past its TTL",
            1,
            PausePrimary,
        ),
        ("election: restart of a single etcd", 1, RestartEtcd),
        ("election: kill + restart of a member (3)", 3, KillMember),
        ("election: loss of quorum and its return (3)", 3, QuorumLoss),
        ("election: pause of the raft leader (3)", 3, PauseRaftLeader),
        (
            "election: partition of the raft leader (3)",
            3,
            PartitionRaftLeader,
        ),
    ]
}

/// Runs the fixed scenarios whose name `selected` accepts.
pub(crate) fn run_scenarios(
    context: &Context,
    bounded: bool,
    selected: &dyn Fn(&str) -> bool,
) -> Vec<Report> {
    let mut reports = Vec::new();
    for (plan, fault) in lock_scenarios(bounded)
        .into_iter()
        .filter(|(p, _)| selected(p.name))
    {
        reports.push(announce(context, plan.name, || {
            scenario::run_lock(context, &plan, fault)
        }));
    }
    let seconds = if bounded { 10 } else { 20 };
    for (name, members, fault) in election_scenarios()
        .into_iter()
        .filter(|(n, _, _)| selected(n))
    {
        reports.push(announce(context, name, || {
            election::run_election(
                context,
                name,
                &[Rust, Python, Go, C],
                members,
                fault,
                2,
                seconds,
            )
        }));
    }
    reports
}

/// Runs one scenario between two progress lines on stderr. In the mutant
/// run a red scenario is what is wanted; whether it went red for the
/// mutant is for the mutant table to say (`mutants::caught`).
pub(crate) fn announce(context: &Context, name: &str, run: impl FnOnce() -> Report) -> Report {
    eprintln!("vinesync-faults: {name} ...");
    let report = run();
    let outcome = match (context.aim_at.is_some(), report.passed()) {
        (false, true) => "passed",
        (false, false) => "FAILED",
        (true, true) => "green (this scenario did not catch the mutant)",
        (true, false) => "red (the mutant table says whether a check meant for it failed)",
    };
    eprintln!("vinesync-faults: {name} {outcome}");
    report
}

/// The value after `flag` on the command line.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter().skip_while(|a| *a != flag).nth(1).cloned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let bounded = args.iter().any(|a| a == "--bounded");
    let out =
        flag_value(&args, "--out").map_or_else(|| PathBuf::from("build/faults"), PathBuf::from);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vinesync-faults: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let resource = match resource::Resource::start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vinesync-faults: resource: {e}");
            return ExitCode::FAILURE;
        }
    };
    let languages: Vec<Language> = Language::ALL
        .into_iter()
        .filter(|l| l.command().is_some())
        .collect();
    let missing: Vec<&str> = Language::ALL
        .into_iter()
        .filter(|l| !languages.contains(l))
        .map(Language::name)
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "vinesync-faults: no worker built for {missing:?} (make test-faults builds them all)"
        );
        if std::env::var("VINESYNC_FAULTS_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            return ExitCode::FAILURE;
        }
    }
    let mut context = Context {
        logs: out.join("logs"),
        runtime,
        resource,
        languages,
        rotation: std::cell::Cell::new(0),
        aim_at: None,
        worker_env: Vec::new(),
        rust_worker: None,
    };
    // `--mutants DIR`: the mutant run (library mutants' Rust workers in DIR).
    if let Some(dir) = flag_value(&args, "--mutants") {
        let only = flag_value(&args, "--only");
        return mutants::run(
            &mut context,
            &PathBuf::from(dir),
            bounded,
            only.as_deref(),
            &out,
        );
    }
    let mut reports = Vec::new();
    match flag_value(&args, "--seed").map(|s| s.parse::<u64>()) {
        // `--seed N`: just the randomized schedule of seed N.
        Some(Ok(seed)) => reports.push(schedule::run(&context, seed)),
        Some(Err(e)) => {
            eprintln!("vinesync-faults: --seed wants a number: {e}");
            return ExitCode::FAILURE;
        }
        None => {
            // `--only TEXT`: just the scenarios whose name contains TEXT.
            let only = flag_value(&args, "--only");
            let selected = |name: &str| only.as_ref().is_none_or(|o| name.contains(o.as_str()));
            reports = run_scenarios(&context, bounded, &selected);
            // `--seeds K`: K randomized schedules after the fixed scenarios,
            // from seeds drawn from the clock (printed; rerun with --seed).
            let seeds = match flag_value(&args, "--seeds").map(|s| s.parse::<u64>()) {
                Some(Ok(n)) => n,
                Some(Err(e)) => {
                    eprintln!("vinesync-faults: --seeds wants a number: {e}");
                    return ExitCode::FAILURE;
                }
                None => 0,
            };
            let first = u64::try_from(clock::now() % 1_000_000).unwrap_or(0);
            for seed in first..first + seeds {
                eprintln!(
                    "vinesync-faults: randomized schedule, seed {seed} (rerun: --seed {seed})"
                );
                reports.push(schedule::run(&context, seed));
            }
        }
    }
    let table = report::render(&reports);
    println!("{table}");
    let failed = reports.iter().filter(|r| !r.passed()).count();
    println!("{} passed, {} failed", reports.len() - failed, failed);
    for r in reports.iter().filter(|r| !r.passed()) {
        if let Some(seed) = r.seed {
            println!("reproduce {:?}: vinesync-faults --seed {seed}", r.scenario);
        }
    }
    let written = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::write(out.join("summary.txt"), &table))
        .and_then(|()| {
            std::fs::write(
                out.join("summary.json"),
                serde_json::to_string_pretty(&reports).unwrap_or_default(),
            )
        });
    if let Err(e) = written {
        eprintln!(
            "vinesync-faults: writing the summary to {}: {e}",
            out.display()
        );
        return ExitCode::FAILURE;
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
