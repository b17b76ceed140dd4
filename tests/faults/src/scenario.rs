//! The scenarios. Each starts its own etcd (one member or three), its
//! workers, injects its fault at a moment it observes (a worker holding the
//! lock, a primary elected), lets everything finish, then checks the
//! counter against the acknowledged increments, the fencing rejections and
//! lost signals it expects, and that no key, lease or process is left.

use std::time::{Duration, Instant};

use vinesync_testkit::{ClientProxy, EtcdCluster};

use crate::clock;
use crate::etcd;
use crate::history::{self, FaultWindow};
use crate::lease_metrics;
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
    /// Which language each next fault aims at (rotates over `languages`).
    pub rotation: std::cell::Cell<usize>,
    /// The mutant run: every fault aims at this language.
    pub aim_at: Option<Language>,
    /// Added to every worker's environment (a worker mutant).
    pub worker_env: Vec<(String, String)>,
    /// Replaces the Rust worker (a library mutant's build).
    pub rust_worker: Option<String>,
}

impl Context {
    /// Starts a worker of `language` (the mutant's, if one is set).
    pub fn start_worker(
        &self,
        language: Language,
        name: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> std::io::Result<Worker> {
        let command = match (&self.rust_worker, language) {
            (Some(path), Language::Rust) => vec![path.clone()],
            _ => language.command().unwrap_or_default(),
        };
        let mut env = env.to_vec();
        env.extend(self.worker_env.iter().cloned());
        Worker::start(language, &command, name, args, &env)
    }

    /// The language the next scenario's fault aims at.
    pub fn next_target(&self) -> Language {
        if let Some(language) = self.aim_at {
            return language;
        }
        let n = self.rotation.get();
        self.rotation.set(n + 1);
        self.languages[n % self.languages.len()]
    }
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
    /// When each of them was killed (clock nanoseconds).
    pub killed_at: Vec<(usize, u128)>,
    /// The faults aimed at one worker, and when they acted.
    pub faults: Vec<FaultWindow>,
    /// The language faults aim at in this scenario (worker 0 speaks it).
    pub target: Language,
    /// The proxy in front of `LockPlan::proxied`.
    pub proxy: Option<ClientProxy>,
    /// The lock's directory in etcd.
    pub lock_dir: String,
}

impl Stage<'_> {
    pub fn acks(&self) -> usize {
        self.workers.iter().map(|w| w.count("ACK")).sum()
    }

    /// Waits until `n` increments were acknowledged in all.
    pub fn wait_acks(&mut self, n: usize) -> bool {
        wait_until(Duration::from_secs(60), || self.acks() >= n)
    }

    /// The index of a worker holding the lock now, preferably one in the
    /// target language (waits up to 30 s).
    pub fn holder(&self) -> Option<usize> {
        self.pick(|w| w.is_holding())
    }

    /// A worker for which `fits` holds, preferably in the target language:
    /// the target's for up to 20 s, then anyone's for 10 s more.
    pub fn pick(&self, fits: impl Fn(&Worker) -> bool) -> Option<usize> {
        let mut found = None;
        let target = self.target;
        wait_until(Duration::from_secs(20), || {
            found = self
                .workers
                .iter()
                .position(|w| w.language == target && fits(w));
            found.is_some()
        });
        if found.is_none() {
            wait_until(Duration::from_secs(10), || {
                found = self.workers.iter().position(&fits);
                found.is_some()
            });
        }
        found
    }

    /// Kills worker `i` with `signal`; it will not exit with status 0.
    pub fn kill(&mut self, i: usize, signal: libc::c_int) {
        let _ = self.workers[i].signal(signal);
        self.killed.push(i);
        self.killed_at.push((i, clock::now()));
    }

    /// Stops worker `i` (SIGSTOP) for `pause`, then resumes it; the window
    /// of the fault is recorded. Returns whether others acknowledged
    /// increments meanwhile.
    pub fn pause(&mut self, i: usize, pause: Duration) -> bool {
        let before = self.acks();
        let start = clock::now();
        let _ = self.workers[i].signal(libc::SIGSTOP);
        std::thread::sleep(pause);
        // Past `pause`, stay stopped until someone else wrote (at most 16 s
        // more): on a loaded machine the others can take longer than the
        // TTL's margin to take the lock and write.
        let others_wrote = wait_until(Duration::from_secs(16), || self.acks() > before);
        let _ = self.workers[i].signal(libc::SIGCONT);
        self.faults.push(FaultWindow {
            worker: i,
            start,
            end: clock::now(),
        });
        others_wrote
    }

    /// SPEC L4 (the lock frees itself once its holder is cut off past the
    /// TTL), with a bound of the suite's own: worker `i` held the lock and
    /// stopped renewing it at `since` (paused or cut off). Its lease runs
    /// out by `since` + TTL, etcd looks for expired leases every 500 ms,
    /// and the next waiter needs a watch event and a re-check: someone
    /// else must hold the lock within TTL + 2 s. Called once the fault is
    /// over: the holds are in the workers' lines by then.
    pub fn expect_taken_over(&mut self, i: usize, since: u128) {
        let first = first_after(self.workers, i, "HOLD", since);
        let limit_ms = u128::from(self.report.ttl_s) * 1000 + 2000;
        match first.map(|t| (t - since) / 1_000_000) {
            Some(ms) => {
                self.report.failover_ms = Some(ms);
                if ms > limit_ms {
                    self.report.fail(
                        "failover",
                        format!("the next holder took the lock {ms} ms after the holder stopped, more than TTL + 2 s"),
                    );
                }
            }
            None => self.report.fail(
                "failover",
                "nobody else held the lock after the holder stopped",
            ),
        }
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
            self.report.fail(
                "told-lost",
                format!("{name} was not told its lock was lost"),
            );
        }
        if !rejected {
            self.report.fail(
                "fenced-out",
                format!("{name}'s late write was not rejected"),
            );
        }
    }

    pub fn problem(&mut self, text: impl Into<String>) {
        self.report.problems.push(text.into());
    }

    /// Something the run saw that is not a failure but explains one.
    pub fn note(&mut self, text: impl Into<String>) {
        self.report.notes.push(text.into());
    }
}

/// A cluster of `members`; with more than one, peer traffic runs through
/// proxies so a fault can cut one member off from the others.
pub fn start_cluster(members: usize) -> std::io::Result<EtcdCluster> {
    let builder = EtcdCluster::builder().members(members);
    if members > 1 {
        builder.peer_proxies().start()
    } else {
        builder.start()
    }
}

/// How a fault on the raft leader ended.
pub struct LeaderFaultEnd {
    /// When the fault stopped acting (clock nanoseconds): the member's
    /// resume or heal, or later if the server went on revoking leases.
    pub ended_at: u128,
    /// Set when the deposed leader revoked leases once resumed (etcd issue
    /// 15247, see `lease_metrics.rs`): what was seen, for the report.
    pub server_revoked: Option<String>,
}

/// Finds the raft leader and does `fault` to it (a pause, a partition).
pub fn hit_raft_leader(
    cluster: &mut EtcdCluster,
    fault: impl FnOnce(&mut EtcdCluster, usize) -> std::io::Result<LeaderFaultEnd>,
) -> Result<LeaderFaultEnd, String> {
    let endpoints = cluster.endpoints();
    let leader = etcd::block_on(etcd::raft_leader(&endpoints))??;
    fault(cluster, leader).map_err(|e| format!("the raft leader (member {leader}): {e}"))
}

/// Pauses member `i` (SIGSTOP) for 3 s, then watches for 2 s whether,
/// resumed and deposed, it revokes leases (a server fault: etcd issue 15247).
pub fn pause_member_3s(cluster: &mut EtcdCluster, i: usize) -> std::io::Result<LeaderFaultEnd> {
    let url = cluster.client_url(i);
    let before = lease_metrics::revoked_as_expired(&url).map_err(std::io::Error::other)?;
    cluster.pause_member(i)?;
    std::thread::sleep(Duration::from_secs(3));
    cluster.resume_member(i)?;
    let resumed_at = clock::now();
    // The lessor looks for overdue leases every 500 ms and a deposed leader
    // demotes it as soon as it hears of the new term: seen in etcd 3.4's
    // logs, its revocations are proposed at once after SIGCONT.
    let mut last_rise = None;
    let mut count = before;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        if let Ok(now) = lease_metrics::revoked_as_expired(&url) {
            if now > count {
                count = now;
                last_rise = Some(clock::now());
            }
        }
    }
    let Some(seen_at) = last_rise else {
        return Ok(LeaderFaultEnd {
            ended_at: resumed_at,
            server_revoked: None,
        });
    };
    // Revocations by a member that leads again are ordinary expiries.
    let leads_again = etcd::block_on(etcd::raft_leader(&cluster.endpoints()))
        .ok()
        .and_then(Result::ok)
        == Some(i);
    Ok(LeaderFaultEnd {
        ended_at: if leads_again { resumed_at } else { seen_at },
        server_revoked: (!leads_again).then(|| {
            format!(
                "etcd revoked {} lease(s) the new raft leader still held: member {i}, raft \
                 leader until paused, revoked them {} ms after it resumed, deposed (etcd issue \
                 15247, fixed in 3.4.31 and 3.5.13); the fault lasts until then",
                count - before,
                (seen_at - resumed_at) / 1_000_000
            )
        }),
    })
}

/// Cuts member `i` off from the other two for at least 3 s; fails unless
/// the other two elect a leader of their own within 15 s (the cut took
/// effect: otherwise they keep following member `i`). The fault ends once
/// all three name one leader at one term again.
pub fn isolate_member_3s(cluster: &mut EtcdCluster, i: usize) -> std::io::Result<LeaderFaultEnd> {
    cluster.isolate_member(i)?;
    let cut_at = Instant::now();
    let others: Vec<String> = (0..cluster.len())
        .filter(|&j| j != i)
        .map(|j| cluster.endpoint(j))
        .collect();
    // One election timeout and its randomized spread, longer on a loaded
    // machine (one CI run found no leader yet when it looked once at 3 s).
    let majority_leader = loop {
        let seen = etcd::block_on(etcd::raft_leader(&others));
        let elected = matches!(seen, Ok(Ok(_)));
        let waited = cut_at.elapsed();
        if (elected && waited >= Duration::from_secs(3)) || waited >= Duration::from_secs(15) {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    cluster.heal_partition();
    if let Ok(Err(e)) | Err(e) = majority_leader {
        return Err(std::io::Error::other(format!(
            "the members cut off from member {i} had no leader of their own: {e}"
        )));
    }
    // The fault lasts until the cluster has settled: the member that was
    // cut off campaigned alone, and its higher term forces new elections
    // once it is back (seen: 2 s without a leader after the heal).
    let endpoints = cluster.endpoints();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let settled_at = clock::now();
        if etcd::block_on(etcd::cluster_settled(&endpoints)) == Ok(true) {
            std::thread::sleep(Duration::from_millis(300));
            if etcd::block_on(etcd::cluster_settled(&endpoints)) == Ok(true) {
                return Ok(LeaderFaultEnd {
                    ended_at: settled_at,
                    server_revoked: None,
                });
            }
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(format!(
                "the cluster did not settle on one leader within 20 s after member {i} was \
                 let back in"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn environment(cluster: &EtcdCluster, prefix: &str) -> Vec<(String, String)> {
    vec![
        ("VINESYNC_NODES".into(), cluster.endpoints().join(",")),
        ("VINESYNC_PREFIX".into(), prefix.into()),
        // Long enough to ride out a restart or a lost quorum.
        ("VINESYNC_REQUEST_TIMEOUT_MS".into(), "20000".into()),
        ("VINESYNC_DIAL_TIMEOUT_MS".into(), "5000".into()),
    ]
}

/// Waits until every worker that was not killed is idle (printed IDLE, or
/// exited), as long as some worker keeps printing; `Err` after `quiet`
/// without a new line anywhere (a stuck queue).
pub fn wait_idle(workers: &mut [Worker], killed: &[usize], quiet: Duration) -> Result<(), String> {
    let mut last_total = 0;
    let mut last_change = Instant::now();
    loop {
        let mut total = 0;
        let mut busy = Vec::new();
        for (i, worker) in workers.iter_mut().enumerate() {
            let lines = worker.lines().len();
            total += lines;
            if !killed.contains(&i) && worker.count("IDLE") == 0 && !worker.exited() {
                busy.push(worker.name.clone());
            }
        }
        if busy.is_empty() {
            return Ok(());
        }
        if total != last_total {
            last_total = total;
            last_change = Instant::now();
        } else if last_change.elapsed() > quiet {
            return Err(format!(
                "no worker printed anything for {} s; still busy: {busy:?}",
                quiet.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A worker killed moments ago leaves its keys until its lease expires:
/// before looking for leaks, wait until TTL + 1 s after the last kill. The
/// live workers keep their leases alive meanwhile, so a key one of them
/// leaked stays visible.
pub fn wait_out_killed_leases(killed_at: impl IntoIterator<Item = u128>, ttl_s: u64) {
    let Some(last_kill) = killed_at.into_iter().max() else {
        return;
    };
    let expired_by = last_kill + u128::from(ttl_s * 1000 + 1000) * 1_000_000;
    let left = expired_by.saturating_sub(clock::now());
    std::thread::sleep(Duration::from_nanos(
        u64::try_from(left).unwrap_or(u64::MAX),
    ));
}

/// While every surviving worker is alive and idle, nothing may be left
/// under the prefix: no holder, no waiter key (a cancelled acquisition
/// removes its key at once, SPEC L8; a killed worker's keys are waited out
/// first, see `wait_out_killed_leases`).
pub fn check_keys_while_alive(
    context: &Context,
    cluster: &EtcdCluster,
    prefix: &str,
    report: &mut Report,
) {
    let endpoints = cluster.endpoints();
    let keys = context.runtime.block_on(async {
        let mut client = etcd::connect(&endpoints).await?;
        etcd::keys_with_leases(&mut client, prefix).await
    });
    match keys {
        Ok(keys) => {
            report.keys_while_alive = Some(keys.len() as i64);
            if !keys.is_empty() {
                report.fail(
                    "leak-alive",
                    format!("keys left while the workers were alive and idle: {keys:?}"),
                );
            }
        }
        Err(e) => report.problems.push(format!("leak check: {e}")),
    }
}

/// Lists the keys under the prefix into the report's problems.
pub fn scenario_keys(context: &Context, cluster: &EtcdCluster, prefix: &str, report: &mut Report) {
    let endpoints = cluster.endpoints();
    let keys = context.runtime.block_on(async {
        let mut client = etcd::connect(&endpoints).await?;
        etcd::keys_with_leases(&mut client, prefix).await
    });
    report.problems.push(format!("keys in etcd now: {keys:?}"));
}

/// After the workers are gone: every key and lease must go within
/// `limit` (a closed client revokes its lease; a killed one's expires).
pub fn check_leftovers(
    context: &Context,
    cluster: &EtcdCluster,
    prefix: &str,
    limit: Duration,
    report: &mut Report,
) {
    let endpoints = cluster.endpoints();
    let outcome = context.runtime.block_on(async {
        let mut client = etcd::connect(&endpoints).await?;
        let deadline = Instant::now() + limit;
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
                report.fail(
                    "leak-exit",
                    format!(
                        "{keys} keys and {leases} leases left {:.1} s after the workers exited",
                        limit.as_secs_f64()
                    ),
                );
            }
        }
        Err(e) => report.problems.push(format!("leak check: {e}")),
    }
}

/// The longest time between a hold's end (RELEASE or LOST) and the next
/// HOLD by anyone, for holds that started at or after `from`.
pub fn max_handoff(workers: &[Worker], from: u128) -> Option<u128> {
    let mut events: Vec<(u128, bool)> = Vec::new(); // (time, is HOLD)
    for worker in workers {
        for (word, t, _) in timed(worker, &["HOLD", "RELEASE", "LOST"]) {
            events.push((t, word == "HOLD"));
        }
    }
    events.sort_unstable();
    let mut last_end = None;
    let mut longest = None;
    for (t, is_hold) in events {
        if is_hold {
            if let Some(end) = last_end.filter(|_| t >= from) {
                let gap: u128 = t.saturating_sub(end) / 1_000_000;
                longest = Some(longest.map_or(gap, |l: u128| l.max(gap)));
            }
            last_end = None;
        } else {
            last_end = Some(t);
        }
    }
    longest
}

pub fn run_lock(context: &Context, plan: &LockPlan, fault: impl FnOnce(&mut Stage<'_>)) -> Report {
    let started = Instant::now();
    let mut report = Report {
        scenario: plan.name.to_string(),
        ttl_s: plan.ttl_s,
        ..Report::default()
    };
    let mut workers_wanted: Vec<Language> = plan
        .workers
        .iter()
        .copied()
        .filter(|l| context.languages.contains(l))
        .collect();
    // The fault aims at worker 0 where it can (the proxied one): rotate the
    // target language there.
    let target = context.next_target();
    if let Some(at) = workers_wanted.iter().position(|l| *l == target) {
        workers_wanted.swap(0, at);
    }
    let mut cluster = match start_cluster(plan.members) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(format!("starting etcd: {e}"));
            return report;
        }
    };
    let prefix = format!("/faults/{}", plan.name.replace(' ', "-"));
    let env = environment(&cluster, &prefix);
    context.resource.reset();
    let proxy = match plan
        .proxied
        .map(|_| ClientProxy::start(cluster.endpoint(0)))
    {
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
        match context.start_worker(*language, &name, &args, &env) {
            Ok(w) => workers.push(w),
            Err(e) => report.problems.push(format!("starting {name}: {e}")),
        }
    }
    report.processes = workers.len();
    report.languages = workers_wanted
        .iter()
        .map(|l| l.name().to_string())
        .collect();
    let mut stage = Stage {
        cluster: &mut cluster,
        workers: &mut workers,
        report: &mut report,
        killed: Vec::new(),
        killed_at: Vec::new(),
        faults: Vec::new(),
        target,
        proxy,
        lock_dir: format!("{prefix}/locks/counter/"),
    };
    fault(&mut stage);
    let Stage {
        killed,
        killed_at,
        faults,
        proxy,
        ..
    } = stage;
    // Leaks while the workers live: long before any TTL could expire them.
    let quiet = Duration::from_secs(plan.ttl_s * 2 + 20);
    let idle = wait_idle(&mut workers, &killed, quiet);
    let stalled = idle.is_err();
    match idle {
        Ok(()) => {
            wait_out_killed_leases(killed_at.iter().map(|(_, t)| *t), plan.ttl_s);
            check_keys_while_alive(context, &cluster, &prefix, &mut report);
        }
        Err(e) => {
            report.fail("progress", e);
            // What blocks the queue (diagnosis only).
            check_keys_while_alive(context, &cluster, &prefix, &mut report);
        }
    }
    for (i, worker) in workers.iter_mut().enumerate() {
        // Idle workers exit at once; after a stall, nobody is waited for.
        let limit = if stalled { 1 } else { 30 };
        match worker.wait(Duration::from_secs(limit)) {
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
        report.fail(
            "lost-update",
            format!("{} acknowledged increments lost", report.lost_updates),
        );
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
            "the resource rejected {} accesses, the workers reported {stale_reported}",
            counts.stale
        ));
    }
    history::check(&workers, &counts, &faults, &killed_at, &mut report);
    report.max_handoff_ms = max_handoff(&workers, 0);
    // A closed client revokes its lease at once; a SIGKILLed one's expires.
    let limit = if killed.is_empty() {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(plan.ttl_s + 5)
    };
    check_leftovers(context, &cluster, &prefix, limit, &mut report);
    keep_logs(context, plan.name, &workers, &cluster);
    drop(workers);
    // The proxied worker is gone: the proxy may close its connections.
    drop(proxy);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Keeps every worker's output in `{logs}/{scenario}/{worker}.txt`, and
/// each etcd member's log as `etcd-{i}.log` beside them.
pub fn keep_logs(context: &Context, scenario: &str, workers: &[Worker], cluster: &EtcdCluster) {
    let dir = logs_dir(context, scenario);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    for worker in workers {
        let _ = std::fs::write(
            dir.join(format!("{}.txt", worker.name)),
            worker.lines().join("\n"),
        );
    }
    for i in 0..cluster.len() {
        let _ = std::fs::copy(cluster.member_log(i), dir.join(format!("etcd-{i}.log")));
    }
}

/// Moves the logs of `scenario` to `{scenario} {label}` (a randomized
/// schedule's seed), so the next run of the same scenario keeps its own.
pub fn label_logs(context: &Context, scenario: &str, label: &str) {
    let labelled = logs_dir(context, &format!("{scenario} {label}"));
    let _ = std::fs::remove_dir_all(&labelled);
    let _ = std::fs::rename(logs_dir(context, scenario), labelled);
}

fn logs_dir(context: &Context, scenario: &str) -> std::path::PathBuf {
    context
        .logs
        .join(scenario.replace([' ', ':', '(', ')'], "_"))
}

/// The time of the first line `word` printed after `since` by a worker
/// other than `except`.
pub fn first_after(workers: &[Worker], except: usize, word: &str, since: u128) -> Option<u128> {
    workers
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != except)
        .flat_map(|(_, w)| timed(w, &[word]))
        .map(|(_, t, _)| t)
        .filter(|t| *t > since)
        .min()
}

/// Parses "WORD t" and "WORD id t" lines of a worker into (word, time,
/// id) triples.
pub fn timed(worker: &Worker, words: &[&str]) -> Vec<(String, u128, String)> {
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
