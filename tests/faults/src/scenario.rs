//! The scenarios. Each starts its own etcd (one member or three), its
//! workers, injects its fault at a moment it observes (a worker holding the
//! lock, a primary elected), lets everything finish, then checks the
//! counter against the acknowledged increments, the fencing rejections and
//! lost signals it expects, and that no key, lease or process is left.

use std::time::{Duration, Instant, SystemTime};

use vinesync_testkit::EtcdCluster;

use crate::etcd;
use crate::proxy::Proxy;
use crate::report::Report;
use crate::resource::Resource;
use crate::worker::{wait_until, Language, Worker};

/// What every scenario shares.
pub struct Context {
    /// Where each worker's output lines are kept (one file per worker).
    pub logs: std::path::PathBuf,
    pub runtime: tokio::runtime::Runtime,
    pub resource: Resource,
    pub languages: Vec<Language>,
}

/// A lock scenario's parameters.
pub struct LockPlan {
    pub name: &'static str,
    pub members: usize,
    pub workers: Vec<Language>,
    pub rounds: u32,
    pub hold_ms: u64,
    pub ttl_s: u64,
    /// The worker (by index) that reaches etcd through a proxy the fault
    /// can cut.
    pub proxied: Option<usize>,
}

/// What a fault may touch while the workers run.
pub struct Stage<'a> {
    pub cluster: &'a mut EtcdCluster,
    pub workers: &'a mut Vec<Worker>,
    pub report: &'a mut Report,
    /// Workers that will not exit by themselves with status 0.
    pub killed: Vec<usize>,
    /// The proxy in front of `LockPlan::proxied`.
    pub proxy: Option<Proxy>,
}

impl Stage<'_> {
    pub fn acks(&self) -> usize {
        self.workers.iter().map(|w| w.count("ACK")).sum()
    }

    /// Waits until `n` increments were acknowledged in all.
    pub fn wait_acks(&mut self, n: usize) -> bool {
        let workers: &Vec<Worker> = self.workers;
        wait_until(Duration::from_secs(60), || {
            workers.iter().map(|w| w.count("ACK")).sum::<usize>() >= n
        })
    }

    /// The index of a worker holding the lock now (waits up to 30 s).
    pub fn holder(&self) -> Option<usize> {
        let mut found = None;
        wait_until(Duration::from_secs(30), || {
            found = self.workers.iter().position(Worker::is_holding);
            found.is_some()
        });
        found
    }

    /// Worker `i` held the lock while it was paused or cut off past its
    /// TTL: once back, it must be told the lock was lost (SPEC L6) and its
    /// late write must have been turned away by the fencing check.
    pub fn expect_fenced_out(&mut self, i: usize) {
        let worker = &self.workers[i];
        let told = wait_until(Duration::from_secs(15), || worker.count("LOST") > 0);
        let rejected = worker.count("STALE") > 0;
        let name = worker.name.clone();
        if !told {
            self.problem(format!("{name} was not told its lock was lost"));
        }
        if !rejected {
            self.problem(format!("{name}'s late write was not rejected"));
        }
    }

    pub fn problem(&mut self, text: impl Into<String>) {
        self.report.problems.push(text.into());
    }
}

fn environment(cluster: &EtcdCluster, prefix: &str) -> Vec<(String, String)> {
    vec![
        ("VINESYNC_NODES".into(), cluster.endpoints().join(",")),
        ("VINESYNC_PREFIX".into(), prefix.into()),
        // Long enough to ride out a restart or a lost quorum.
        ("VINESYNC_REQUEST_TIMEOUT_MS".into(), "20000".into()),
        ("VINESYNC_DIAL_TIMEOUT_MS".into(), "5000".into()),
    ]
}

/// After the workers are gone: every key and lease must go (killed
/// workers' leases within their TTL).
fn check_leftovers(
    context: &Context,
    cluster: &EtcdCluster,
    prefix: &str,
    ttl_s: u64,
    report: &mut Report,
) {
    let endpoints = cluster.endpoints();
    let outcome = context.runtime.block_on(async {
        let mut client = etcd::connect(&endpoints).await?;
        let deadline = Instant::now() + Duration::from_secs(ttl_s + 5);
        loop {
            let (keys, leases) = etcd::leftovers(&mut client, prefix).await?;
            if (keys == 0 && leases == 0) || Instant::now() > deadline {
                return Ok::<_, String>((keys, leases));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    match outcome {
        Ok((keys, leases)) => {
            report.leaked_keys = keys;
            report.leaked_leases = leases;
            if keys != 0 || leases != 0 {
                report.problems.push(format!(
                    "{keys} keys and {leases} leases left after {}s",
                    ttl_s + 5
                ));
            }
        }
        Err(e) => report.problems.push(format!("leak check: {e}")),
    }
}

pub fn run_lock(context: &Context, plan: &LockPlan, fault: impl FnOnce(&mut Stage<'_>)) -> Report {
    let started = Instant::now();
    let mut report = Report {
        scenario: plan.name.to_string(),
        ttl_s: plan.ttl_s,
        ..Report::default()
    };
    let workers_wanted: Vec<Language> = plan
        .workers
        .iter()
        .copied()
        .filter(|l| context.languages.contains(l))
        .collect();
    let mut cluster = match EtcdCluster::start(plan.members) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(format!("starting etcd: {e}"));
            return report;
        }
    };
    let prefix = format!("/faults/{}", plan.name.replace(' ', "-"));
    let env = environment(&cluster, &prefix);
    context.resource.reset();
    let proxy = match plan.proxied.map(|_| Proxy::start(cluster.endpoint(0))) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            report.problems.push(format!("starting the proxy: {e}"));
            None
        }
        None => None,
    };
    let mut workers = Vec::new();
    for (i, language) in workers_wanted.iter().enumerate() {
        let name = format!("{}-{i}", language.name());
        let mut env = env.clone();
        if let (Some(proxy), true) = (&proxy, plan.proxied == Some(i)) {
            env.push(("VINESYNC_NODES".into(), proxy.address.clone()));
        }
        let args: Vec<String> = vec![
            "lock".into(),
            name.clone(),
            "counter".into(),
            plan.rounds.to_string(),
            plan.ttl_s.to_string(),
            context.resource.address.clone(),
            plan.hold_ms.to_string(),
        ];
        match Worker::start(*language, &name, &args, &env) {
            Ok(w) => workers.push(w),
            Err(e) => report.problems.push(format!("starting {name}: {e}")),
        }
    }
    report.processes = workers.len();
    let mut languages: Vec<String> = workers_wanted
        .iter()
        .map(|l| l.name().to_string())
        .collect();
    languages.dedup();
    report.languages = languages;
    let mut stage = Stage {
        cluster: &mut cluster,
        workers: &mut workers,
        report: &mut report,
        killed: Vec::new(),
        proxy,
    };
    fault(&mut stage);
    let killed = stage.killed.clone();
    for (i, worker) in workers.iter_mut().enumerate() {
        match worker.wait(Duration::from_secs(180)) {
            Ok(status) if killed.contains(&i) || status.success() => {}
            Ok(status) => report.problems.push(format!(
                "{} exited with {status}; last lines: {:?}",
                worker.name,
                worker.lines().iter().rev().take(3).collect::<Vec<_>>()
            )),
            Err(e) => report.problems.push(format!("{}: {e}", worker.name)),
        }
    }
    let counts = context.resource.counts();
    report.acked = workers.iter().map(|w| w.count("ACK") as u64).sum();
    report.counter = counts.value;
    report.stale_rejected = counts.stale;
    report.lost_signals = workers.iter().map(|w| w.count("LOST")).sum();
    report.lost_updates = report.acked.saturating_sub(report.counter);
    if report.lost_updates > 0 {
        report.problems.push(format!(
            "{} acknowledged increments lost",
            report.lost_updates
        ));
    }
    // A killed worker may have had a write applied but not yet acknowledged.
    let unacknowledged = report.counter.saturating_sub(report.acked);
    if unacknowledged > killed.len() as u64 {
        report.problems.push(format!(
            "{unacknowledged} increments applied that nobody acknowledged"
        ));
    }
    let stale_reported: u64 = workers.iter().map(|w| w.count("STALE") as u64).sum();
    if stale_reported != counts.stale {
        report.problems.push(format!(
            "the resource rejected {} writes, the workers reported {stale_reported}",
            counts.stale
        ));
    }
    check_leftovers(context, &cluster, &prefix, plan.ttl_s, &mut report);
    keep_logs(context, plan.name, &workers);
    drop(workers);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Keeps every worker's output in `{logs}/{scenario}/{worker}.txt`.
fn keep_logs(context: &Context, scenario: &str, workers: &[Worker]) {
    let dir = context
        .logs
        .join(scenario.replace([' ', ':', '(', ')'], "_"));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    for worker in workers {
        let _ = std::fs::write(
            dir.join(format!("{}.txt", worker.name)),
            worker.lines().join("\n"),
        );
    }
}

/// Parses "WORD unix_ns" lines of a worker into (word, time) pairs.
fn timed(worker: &Worker, words: &[&str]) -> Vec<(String, u128, String)> {
    worker
        .lines()
        .iter()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            match parts.as_slice() {
                [w, t] if words.contains(w) => {
                    Some((w.to_string(), t.parse().ok()?, String::new()))
                }
                [w, id, t] if words.contains(w) => {
                    Some((w.to_string(), t.parse().ok()?, id.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

fn unix_ns(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Elections: candidates in several languages, each also watching the
/// namespace; the primary is killed with SIGKILL; a checker replays the
/// candidates' keys from etcd.
/// What happens to an election while the candidates run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionFault {
    /// SIGKILL of the primary: failover within TTL + 1 s.
    KillPrimary,
    /// The single etcd is killed and restarted.
    RestartEtcd,
    /// The member clients talk to first is killed, restarted 2 s later.
    KillMember,
    /// SIGSTOP of the primary past its TTL, then SIGCONT: a new primary
    /// within TTL + 1 s; the paused one must report DEMOTED once resumed.
    PausePrimary,
    /// Two of three members stopped for 3 s.
    QuorumLoss,
}

pub fn run_election(
    context: &Context,
    name: &str,
    candidates: &[Language],
    members: usize,
    fault: ElectionFault,
    ttl_s: u64,
    seconds: u64,
) -> Report {
    let started = Instant::now();
    let mut report = Report {
        scenario: name.to_string(),
        ttl_s,
        ..Report::default()
    };
    let mut cluster = match EtcdCluster::start(members) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(format!("starting etcd: {e}"));
            return report;
        }
    };
    let prefix = "/faults/election".to_string();
    let env = environment(&cluster, &prefix);
    let changes: etcd::Changes = Default::default();
    let endpoints = cluster.endpoints();
    let checker = {
        let changes = changes.clone();
        let dir = format!("{prefix}/leaders/faults/");
        context
            .runtime
            .spawn(etcd::watch_primaries(endpoints, dir, changes))
    };
    std::thread::sleep(Duration::from_millis(300)); // the checker's watch is open
    let wanted: Vec<Language> = candidates
        .iter()
        .copied()
        .filter(|l| context.languages.contains(l))
        .collect();
    let mut workers = Vec::new();
    for (i, language) in wanted.iter().enumerate() {
        let worker_name = format!("{}-{i}", language.name());
        let args: Vec<String> = vec![
            "elect".into(),
            worker_name.clone(),
            "faults".into(),
            ttl_s.to_string(),
            seconds.to_string(),
        ];
        match Worker::start(*language, &worker_name, &args, &env) {
            Ok(w) => workers.push(w),
            Err(e) => report.problems.push(format!("starting {worker_name}: {e}")),
        }
        // Join one after the other: campaign order = start order.
        std::thread::sleep(Duration::from_millis(200));
    }
    report.processes = workers.len();
    report.languages = wanted.iter().map(|l| l.name().to_string()).collect();
    // Once a primary is elected, the fault. A killed primary: time until
    // another one says ELECTED.
    let mut killed = None;
    let elected = wait_until(Duration::from_secs(20), || {
        workers.iter().any(|w| w.count("ELECTED") > 0)
    });
    // A paused primary: (index, when it was stopped).
    let mut paused = None;
    let on_primary = matches!(
        fault,
        ElectionFault::KillPrimary | ElectionFault::PausePrimary
    );
    if elected && !on_primary {
        std::thread::sleep(Duration::from_millis(500));
        let restarted = match fault {
            ElectionFault::RestartEtcd => cluster.restart_member(0),
            ElectionFault::QuorumLoss => cluster
                .stop_member(1)
                .and_then(|()| cluster.stop_member(2))
                .and_then(|()| {
                    std::thread::sleep(Duration::from_secs(3));
                    cluster.restart_member(1)
                })
                .and_then(|()| cluster.restart_member(2)),
            _ => cluster.kill_member(0).and_then(|()| {
                std::thread::sleep(Duration::from_secs(2));
                cluster.restart_member(0)
            }),
        };
        if let Err(e) = restarted {
            report.problems.push(format!("restarting etcd: {e}"));
        }
    } else if elected {
        if let Some(i) = workers
            .iter()
            .position(|w| w.count("ELECTED") > w.count("DEMOTED"))
        {
            std::thread::sleep(Duration::from_millis(500));
            let kill_time = SystemTime::now();
            if fault == ElectionFault::PausePrimary {
                let _ = workers[i].signal(libc::SIGSTOP);
                paused = Some((i, unix_ns(kill_time)));
            } else {
                let _ = workers[i].signal(libc::SIGKILL);
                killed = Some((i, unix_ns(kill_time)));
            }
            let others_elected = |ws: &Vec<Worker>| {
                ws.iter()
                    .enumerate()
                    .any(|(j, w)| j != i && w.count("ELECTED") > 0)
            };
            if wait_until(Duration::from_secs(ttl_s + 10), || others_elected(&workers)) {
                let first = workers
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, w)| timed(w, &["ELECTED"]))
                    .map(|(_, t, _)| t)
                    .min()
                    .unwrap_or(0);
                let failover = first.saturating_sub(unix_ns(kill_time)) / 1_000_000;
                report.failover_ms = Some(failover);
                if failover > u128::from(ttl_s) * 1000 + 1000 {
                    report
                        .problems
                        .push(format!("failover took {failover} ms, more than TTL + 1 s"));
                }
            } else {
                report.problems.push("no new primary after the kill".into());
            }
            if paused.is_some() {
                // Resumed, the old primary must learn it is no longer one.
                let _ = workers[i].signal(libc::SIGCONT);
                let resumed = &workers[i];
                if !wait_until(Duration::from_secs(10), || resumed.count("DEMOTED") > 0) {
                    report.problems.push(format!(
                        "{} was not told it lost the primary role",
                        resumed.name
                    ));
                }
            }
        }
    } else {
        report.problems.push("nobody was elected".into());
    }
    for (i, worker) in workers.iter_mut().enumerate() {
        match worker.wait(Duration::from_secs(seconds + 60)) {
            Ok(status) if killed.is_some_and(|(k, _)| k == i) || status.success() => {}
            Ok(status) => report
                .problems
                .push(format!("{} exited with {status}", worker.name)),
            Err(e) => report.problems.push(format!("{}: {e}", worker.name)),
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    checker.abort();
    // Terms: ELECTED..DEMOTED (or the kill, or the process end).
    let mut terms: Vec<(usize, u128, u128)> = Vec::new();
    for (i, worker) in workers.iter().enumerate() {
        let mut open = None;
        for (word, t, _) in timed(worker, &["ELECTED", "DEMOTED"]) {
            match word.as_str() {
                "ELECTED" => open = Some(t),
                _ => {
                    if let Some(s) = open.take() {
                        terms.push((i, s, t));
                    }
                }
            }
        }
        if let Some(s) = open {
            // A term still open ended with the kill, or when the worker
            // started resigning (UNWATCHING is printed just before: the
            // next primary can only be elected after the key is deleted).
            let resigning = timed(worker, &["UNWATCHING"]).first().map(|(_, t, _)| *t);
            let end = match killed.filter(|(k, _)| *k == i) {
                Some((_, t)) => t,
                None => resigning.unwrap_or(u128::MAX),
            };
            terms.push((i, s, end));
        }
    }
    // A stopped process cannot act: its term ends when it was stopped (once
    // resumed it is told it lost the role; fencing tokens cover that gap).
    if let Some((p, stopped)) = paused {
        for term in terms.iter_mut().filter(|t| t.0 == p && t.1 <= stopped) {
            term.2 = term.2.min(stopped);
        }
    }
    for (a, x) in terms.iter().enumerate() {
        for y in &terms[a + 1..] {
            if x.0 != y.0 && x.1 < y.2 && y.1 < x.2 {
                report.double_primaries += 1;
            }
        }
    }
    if report.double_primaries > 0 {
        let base = terms.iter().map(|t| t.1).min().unwrap_or(0);
        let ms = |t: u128| {
            if t == u128::MAX {
                -1
            } else {
                ((t - base) / 1_000_000) as i64
            }
        };
        let shown: Vec<String> = terms
            .iter()
            .map(|(i, a, b)| format!("{} {}..{}ms", workers[*i].name, ms(*a), ms(*b)))
            .collect();
        report.problems.push(format!(
            "{} overlapping primary terms: {}",
            report.double_primaries,
            shown.join(", ")
        ));
    }
    // Every change of primary the checker saw while a surviving watcher was
    // watching must be in that watcher's WATCHED lines, in order.
    let truth: Vec<(u128, String)> = changes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(t, id)| (unix_ns(*t), id.clone()))
        .filter(|(_, id)| !id.is_empty())
        .collect();
    if truth.len() < 2 {
        report.problems.push(format!(
            "the checker saw {} primaries, expected at least 2",
            truth.len()
        ));
    }
    for (i, worker) in workers.iter().enumerate() {
        if killed.is_some_and(|(k, _)| k == i) {
            continue;
        }
        let seen: Vec<(u128, String)> = timed(worker, &["WATCHED"])
            .into_iter()
            .map(|(_, t, id)| (t, id))
            .collect();
        let unwatched = timed(worker, &["UNWATCHING"])
            .first()
            .map_or(0, |(_, t, _)| *t);
        let Some(first) = seen.first() else {
            report.missed_changes += truth.len();
            report
                .problems
                .push(format!("{}'s watcher saw no primary", worker.name));
            continue;
        };
        // Changes from the watcher's first event until it stopped watching
        // (less half a second for delivery).
        let Some(start) = truth.iter().position(|(_, id)| *id == first.1) else {
            report.missed_changes += 1;
            continue;
        };
        let expected: Vec<&String> = truth[start..]
            .iter()
            .filter(|(t, _)| *t + 500_000_000 <= unwatched)
            .map(|(_, id)| id)
            .collect();
        let got: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
        let mut cursor = got.iter();
        let mut missed = 0;
        for id in &expected {
            if !cursor.any(|g| g == id) {
                missed += 1;
            }
        }
        if missed > 0 {
            report.missed_changes += missed;
            report.problems.push(format!(
                "{} saw primaries {got:?}, etcd had {expected:?}",
                worker.name
            ));
        }
    }
    if report.missed_changes > 0 {
        report.problems.push(format!(
            "watchers missed {} primary changes",
            report.missed_changes
        ));
    }
    check_leftovers(context, &cluster, &prefix, ttl_s, &mut report);
    keep_logs(context, name, &workers);
    report.seconds = started.elapsed().as_secs_f64();
    report
}
