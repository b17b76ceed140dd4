//! The election scenarios: candidates in four languages, each also
//! watching the namespace, while the suite kills or pauses the primary or
//! etcd. Candidates run again when their candidacy ends, as a real service
//! would. Checked from the workers' histories (on the shared clock) against
//! a checker that replays the candidates' keys from etcd:
//!
//! - `one-primary`: within TTL + 1 s after the fault ended, exactly one
//!   process believes it is primary, and it is etcd's candidate with the
//!   lowest create revision;
//! - `failover`: a killed or paused primary is replaced within TTL + 1 s;
//! - `double-primary`: no two terms (ELECTED..DEMOTED, or until the
//!   process starts resigning) of live processes overlap (a paused
//!   process's term ends when it was stopped);
//! - `told-demoted`: a resumed primary says DEMOTED;
//! - `watch-miss`: every watcher reported every change of primary that
//!   etcd had from the moment its watch was open until 1 s before it was
//!   told to stop. At the end the candidates are stopped one by one, the
//!   primary of the moment first, so there are changes to compare; a run
//!   in which no watcher saw another member become primary is a problem,
//!   not a pass.

use std::time::{Duration, Instant};

use vinesync_testkit::EtcdCluster;

use crate::clock;
use crate::etcd;
use crate::report::Report;
use crate::scenario::{self, timed, Context};
use crate::worker::{wait_until, Language, Worker};

/// How long past `seconds` a candidate may campaign at most when the suite
/// never tells it to stop (it always does, once its checks are done).
const CAMPAIGN_LIMIT_SLACK_S: u64 = 60;

/// What happens to an election while the candidates run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionFault {
    /// SIGKILL of the primary.
    KillPrimary,
    /// SIGSTOP of the primary past its TTL, then SIGCONT once another one
    /// is elected.
    PausePrimary,
    /// The single etcd is killed and restarted.
    RestartEtcd,
    /// The member clients talk to first is killed, restarted 2 s later.
    KillMember,
    /// Two of three members stopped for 3 s.
    QuorumLoss,
    /// The raft leader among three members is stopped (SIGSTOP) for 3 s.
    PauseRaftLeader,
    /// The raft leader is cut off from the other two members for 3 s.
    PartitionRaftLeader,
}

/// Whether each worker believes it is primary now (its last ELECTED or
/// DEMOTED), `None` for the killed one.
fn beliefs(workers: &[Worker], killed: Option<usize>) -> Vec<Option<bool>> {
    workers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if killed == Some(i) {
                return None;
            }
            let last = timed(w, &["ELECTED", "DEMOTED"]).pop();
            Some(last.is_some_and(|(word, _, _)| word == "ELECTED"))
        })
        .collect()
}

/// Polls until `deadline` for exactly one believer that is also etcd's
/// primary. Returns the number of believers at the last look and what was
/// wrong then, if it never settled.
fn settles_to_one_primary(
    context: &Context,
    endpoints: &[String],
    dir: &str,
    workers: &[Worker],
    killed: Option<usize>,
    deadline: Instant,
) -> (usize, Option<String>) {
    loop {
        let believers: Vec<&str> = beliefs(workers, killed)
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == Some(true))
            .map(|(i, _)| workers[i].name.as_str())
            .collect();
        let truth = context.runtime.block_on(async {
            let mut client = etcd::connect(endpoints).await?;
            etcd::primary_now(&mut client, dir).await
        });
        let wrong = match (&truth, believers.as_slice()) {
            (Ok(Some(primary)), [one]) if primary == one => None,
            (Ok(truth), _) => Some(format!(
                "{} believe they are primary ({believers:?}); etcd's lowest candidate is {truth:?}",
                believers.len()
            )),
            (Err(e), _) => Some(format!("reading the primary from etcd: {e}")),
        };
        if wrong.is_none() || Instant::now() >= deadline {
            return (believers.len(), wrong);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A worker and a time on the shared clock (when it was killed or stopped).
type WorkerAt = Option<(usize, u128)>;

/// Injects `fault`; returns the killed worker and the paused one, with
/// when each was hit.
fn inject(
    fault: ElectionFault,
    cluster: &mut EtcdCluster,
    workers: &[Worker],
    primary: usize,
    ttl_s: u64,
    report: &mut Report,
) -> (WorkerAt, WorkerAt) {
    let etcd_fault = |report: &mut Report, outcome: std::io::Result<()>| {
        if let Err(e) = outcome {
            report.problems.push(format!("restarting etcd: {e}"));
        }
    };
    match fault {
        ElectionFault::KillPrimary => {
            let at = clock::now();
            let _ = workers[primary].signal(libc::SIGKILL);
            (Some((primary, at)), None)
        }
        ElectionFault::PausePrimary => {
            let at = clock::now();
            let _ = workers[primary].signal(libc::SIGSTOP);
            let others_elected = wait_until(Duration::from_secs(ttl_s + 10), || {
                workers.iter().enumerate().any(|(j, w)| {
                    j != primary && timed(w, &["ELECTED"]).iter().any(|(_, t, _)| *t > at)
                })
            });
            if !others_elected {
                report.fail(
                    "failover",
                    "nobody was elected while the primary was paused",
                );
            }
            let _ = workers[primary].signal(libc::SIGCONT);
            (None, Some((primary, at)))
        }
        ElectionFault::RestartEtcd => {
            etcd_fault(report, cluster.restart_member(0));
            (None, None)
        }
        ElectionFault::KillMember => {
            let outcome = cluster.kill_member(0).and_then(|()| {
                std::thread::sleep(Duration::from_secs(2));
                cluster.restart_member(0)
            });
            etcd_fault(report, outcome);
            (None, None)
        }
        ElectionFault::QuorumLoss => {
            let outcome = cluster
                .stop_member(1)
                .and_then(|()| cluster.stop_member(2))
                .and_then(|()| {
                    std::thread::sleep(Duration::from_secs(3));
                    cluster.restart_member(1)
                })
                .and_then(|()| cluster.restart_member(2));
            etcd_fault(report, outcome);
            (None, None)
        }
        ElectionFault::PauseRaftLeader | ElectionFault::PartitionRaftLeader => {
            // Found by the caller's runtime (see run_election).
            (None, None)
        }
    }
}

#[allow(clippy::too_many_arguments)]
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
    let mut cluster = match scenario::start_cluster(members) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(format!("starting etcd: {e}"));
            return report;
        }
    };
    let prefix = "/faults/election".to_string();
    let dir = format!("{prefix}/leaders/faults/");
    let env = scenario::environment(&cluster, &prefix);
    let changes: etcd::Changes = Default::default();
    let endpoints = cluster.endpoints();
    let checker = context.runtime.spawn(etcd::watch_primaries(
        endpoints.clone(),
        dir.clone(),
        changes.clone(),
    ));
    std::thread::sleep(Duration::from_millis(300)); // the checker's watch is open
    let mut wanted: Vec<Language> = candidates
        .iter()
        .copied()
        .filter(|l| context.languages.contains(l))
        .collect();
    // The first candidate becomes the primary the fault hits: rotate the
    // target language there.
    let target = context.next_target();
    if let Some(at) = wanted.iter().position(|l| *l == target) {
        wanted.swap(0, at);
    }
    let mut workers = Vec::new();
    for (i, language) in wanted.iter().enumerate() {
        let worker_name = format!("{}-{i}", language.name());
        let args: Vec<String> = vec![
            "elect".into(),
            worker_name.clone(),
            "faults".into(),
            ttl_s.to_string(),
            (seconds + CAMPAIGN_LIMIT_SLACK_S).to_string(),
        ];
        match context.start_worker(*language, &worker_name, &args, &env) {
            Ok(w) => workers.push(w),
            Err(e) => report.problems.push(format!("starting {worker_name}: {e}")),
        }
        // Join one after the other: campaign order = start order.
        std::thread::sleep(Duration::from_millis(200));
    }
    report.processes = workers.len();
    report.languages = wanted.iter().map(|l| l.name().to_string()).collect();
    let campaign_until = Instant::now() + Duration::from_secs(seconds);

    let elected = wait_until(Duration::from_secs(20), || {
        workers.iter().any(|w| w.count("ELECTED") > 0)
    });
    let primary = workers
        .iter()
        .position(|w| w.count("ELECTED") > w.count("DEMOTED"));
    let mut killed = None;
    let mut paused = None;
    // When etcd itself revoked live leases (see `lease_metrics.rs`).
    let mut server_revoked = None;
    match primary.filter(|_| elected) {
        None => report.problems.push("nobody was elected".into()),
        Some(p) => {
            std::thread::sleep(Duration::from_millis(500));
            let fault_start = clock::now();
            let on_leader = match fault {
                ElectionFault::PauseRaftLeader => Some(scenario::pause_member_3s as LeaderFault),
                ElectionFault::PartitionRaftLeader => {
                    Some(scenario::isolate_member_3s as LeaderFault)
                }
                _ => None,
            };
            let mut fault_end = None;
            if let Some(on_leader) = on_leader {
                match scenario::hit_raft_leader(&mut cluster, on_leader) {
                    Ok(end) => {
                        if let Some(note) = end.server_revoked {
                            report.notes.push(note);
                            server_revoked = Some((fault_start, end.ended_at));
                        }
                        fault_end = Some(end.ended_at);
                    }
                    Err(e) => report.problems.push(e),
                }
            } else {
                (killed, paused) = inject(fault, &mut cluster, &workers, p, ttl_s, &mut report);
            }
            if killed.is_some() || paused.is_some() {
                check_failover(&workers, p, fault_start, ttl_s, &mut report);
            }
            // Within TTL + 1 s of the fault's end: one primary, etcd's.
            let settle_by =
                fault_end.unwrap_or_else(clock::now) + u128::from(ttl_s * 1000 + 1000) * 1_000_000;
            let deadline = Instant::now()
                + Duration::from_nanos(
                    u64::try_from(settle_by.saturating_sub(clock::now())).unwrap_or(u64::MAX),
                );
            let (count, wrong) = settles_to_one_primary(
                context,
                &endpoints,
                &dir,
                &workers,
                killed.map(|(k, _)| k),
                deadline,
            );
            report.primaries_after_fault.push(count);
            // A fault that outlasted the candidacies (etcd took that long
            // to come back) leaves nothing to judge: the candidates have
            // begun to resign. Said as what it is, not as a wrong primary.
            let stopping = workers.iter().any(|w| w.count("UNWATCHING") > 0);
            if stopping {
                report.problems.push(format!(
                    "the fault lasted {:.1} s, until the candidates reached their limit \
                     and began to stop: no check of the primaries after it",
                    (clock::now() - fault_start) as f64 / 1e9
                ));
            } else if let Some(wrong) = wrong {
                report.fail("one-primary", format!("TTL + 1 s after the fault: {wrong}"));
            }
            if let Some((p, _)) = paused {
                let resumed = &workers[p];
                if !wait_until(Duration::from_secs(10), || resumed.count("DEMOTED") > 0) {
                    report.fail(
                        "told-demoted",
                        format!("{} was not told it lost the primary role", resumed.name),
                    );
                }
            }
        }
    }
    // Candidates run for `seconds`, and past that until the checks after
    // the fault are done (a slow etcd restart must not cut them short),
    // plus a moment for the watchers to report the last change.
    let stop_at = campaign_until.max(Instant::now() + Duration::from_secs(1));
    std::thread::sleep(stop_at.saturating_duration_since(Instant::now()));
    // The primary of the moment stops first, then the next primary, one by
    // one: each resignation hands the role on, so the checker and the
    // watchers still open see changes of primary to compare (stopped all
    // at once, a primary that resigned last left nothing to compare).
    let mut running: Vec<usize> = (0..workers.len())
        .filter(|&i| killed.is_none_or(|(k, _)| k != i))
        .collect();
    let mut told_to_stop = vec![None; workers.len()];
    while !running.is_empty() {
        let believed = beliefs(&workers, None);
        let next = running
            .iter()
            .position(|&i| believed[i] == Some(true))
            .unwrap_or(0);
        let i = running.remove(next);
        told_to_stop[i] = Some(clock::now());
        workers[i].stop_campaign();
        if !running.is_empty() {
            std::thread::sleep(STOP_STAGGER);
        }
    }
    let killed_index: Vec<usize> = killed.iter().map(|(k, _)| *k).collect();
    let idle = scenario::wait_idle(
        &mut workers,
        &killed_index,
        Duration::from_secs(seconds + 30),
    );
    let stalled = idle.is_err();
    match idle {
        Ok(()) => {
            scenario::wait_out_killed_leases(killed.map(|(_, t)| t), ttl_s);
            scenario::check_keys_while_alive(context, &cluster, &prefix, &mut report);
        }
        Err(e) => {
            report.fail("progress", e);
            // What blocks the queue (diagnosis only).
            scenario::scenario_keys(context, &cluster, &prefix, &mut report);
        }
    }
    for (i, worker) in workers.iter_mut().enumerate() {
        // Idle workers exit at once; after a stall, nobody is waited for.
        let limit = if stalled { 1 } else { 30 };
        match worker.wait(Duration::from_secs(limit)) {
            Ok(status) if killed_index.contains(&i) || status.success() => {}
            Ok(status) => report
                .problems
                .push(format!("{} exited with {status}", worker.name)),
            Err(e) => report.problems.push(format!("{}: {e}", worker.name)),
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    checker.abort();
    check_terms(&workers, killed, paused, server_revoked, &mut report);
    let truth = changes.lock().unwrap_or_else(|p| p.into_inner()).clone();
    check_watchers(
        &workers,
        killed.map(|(k, _)| k),
        &told_to_stop,
        &truth,
        &mut report,
    );
    let limit = if killed.is_some() { ttl_s + 5 } else { 3 };
    scenario::check_leftovers(
        context,
        &cluster,
        &prefix,
        Duration::from_secs(limit),
        &mut report,
    );
    scenario::keep_logs(context, name, &workers, &cluster);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// What a fault does to the raft leader (member index given).
type LeaderFault = fn(&mut EtcdCluster, usize) -> std::io::Result<scenario::LeaderFaultEnd>;

/// The first ELECTED of another worker after the fault, within TTL + 1 s.
fn check_failover(
    workers: &[Worker],
    primary: usize,
    fault_start: u128,
    ttl_s: u64,
    report: &mut Report,
) {
    let elected_after = || scenario::first_after(workers, primary, "ELECTED", fault_start);
    wait_until(Duration::from_secs(ttl_s + 10), || {
        elected_after().is_some()
    });
    let Some(first) = elected_after() else {
        report.fail("failover", "no new primary after the fault");
        return;
    };
    let failover = (first - fault_start) / 1_000_000;
    report.failover_ms = Some(failover);
    if failover > u128::from(ttl_s) * 1000 + 1000 {
        report.fail(
            "failover",
            format!("failover took {failover} ms, more than TTL + 1 s"),
        );
    }
}

/// How long after etcd revoked a primary's lease it may take to be told.
const TOLD_DEMOTED_GRACE: u128 = 10_000_000_000;

/// Terms ELECTED..DEMOTED (or the kill, or the start of resigning) of
/// different processes must not overlap. `server_revoked`: the window in
/// which etcd revoked leases itself (etcd issue 15247): a term it ended may
/// overlap the next one until its holder is told (within the grace), as a
/// lock hold may after a fault.
fn check_terms(
    workers: &[Worker],
    killed: WorkerAt,
    paused: WorkerAt,
    server_revoked: Option<(u128, u128)>,
    report: &mut Report,
) {
    let mut terms: Vec<(usize, u128, u128)> = Vec::new();
    for (i, worker) in workers.iter().enumerate() {
        // A term ends when the worker starts resigning (UNWATCHING is
        // printed just before: the next primary can only be elected after
        // the key is deleted) — also when it says DEMOTED only after the
        // resign, as the Go and Python workers do, racing the next
        // primary's ELECTED line.
        let resigning = timed(worker, &["UNWATCHING"])
            .first()
            .map_or(u128::MAX, |(_, t, _)| *t);
        let mut open = None;
        for (word, t, _) in timed(worker, &["ELECTED", "DEMOTED"]) {
            match word.as_str() {
                "ELECTED" => open = open.or(Some(t)),
                _ => {
                    if let Some(s) = open.take() {
                        let end = if resigning >= s { t.min(resigning) } else { t };
                        terms.push((i, s, end));
                    }
                }
            }
        }
        if let Some(s) = open {
            // A term still open ended with the kill, or at the resign.
            let end = match killed.filter(|(k, _)| *k == i) {
                Some((_, t)) => t,
                None => resigning,
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
                let (earlier, later) = if x.1 <= y.1 { (x, y) } else { (y, x) };
                let excused = server_revoked.is_some_and(|(start, end)| {
                    later.1 >= start && earlier.2 <= end.saturating_add(TOLD_DEMOTED_GRACE)
                });
                if excused {
                    report.excused_overlaps += 1;
                } else {
                    report.double_primaries += 1;
                }
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
        report.fail(
            "double-primary",
            format!(
                "{} overlapping primary terms: {}",
                report.double_primaries,
                shown.join(", ")
            ),
        );
    }
}

/// Time between telling one candidate to stop and the next. Each
/// resignation hands the role on; a watcher told to stop
/// [`WATCH_REPORT_GRACE`] or more after a change must have reported it.
const STOP_STAGGER: Duration = Duration::from_millis(1500);

/// How long before it was told to stop a watcher must have reported a
/// change of primary (etcd's event reaching it, and its line reaching us).
const WATCH_REPORT_GRACE: u128 = 1_000_000_000;

/// Every change of primary etcd had while a watcher was open (from its
/// WATCHING line until a moment before it was told to stop, or said
/// UNWATCHING on its own) must be in its WATCHED lines, in order. The
/// staggered stop makes sure there are changes to compare; a run in which
/// no watcher had another member's election to report is a problem, not a
/// pass.
fn check_watchers(
    workers: &[Worker],
    killed: Option<usize>,
    told_to_stop: &[Option<u128>],
    truth: &[(u128, String)],
    report: &mut Report,
) {
    let mut compared = 0;
    let mut others_compared = 0;
    for (i, worker) in workers.iter().enumerate() {
        if killed == Some(i) {
            continue;
        }
        let Some(opened) = timed(worker, &["WATCHING"]).first().map(|(_, t, _)| *t) else {
            report.fail(
                "watch-miss",
                format!("{} never said its watch was open", worker.name),
            );
            continue;
        };
        let unwatched = timed(worker, &["UNWATCHING"])
            .first()
            .map_or(u128::MAX, |(_, t, _)| *t);
        let until = unwatched
            .min(told_to_stop[i].unwrap_or(u128::MAX))
            .saturating_sub(WATCH_REPORT_GRACE);
        let expected: Vec<&String> = truth
            .iter()
            .filter(|(t, id)| *t > opened && *t < until && !id.is_empty())
            .map(|(_, id)| id)
            .collect();
        compared += expected.len();
        // Its own election it learns from its candidacy too: only the
        // others' prove the watch works.
        others_compared += expected.iter().filter(|id| **id != &worker.name).count();
        let got: Vec<String> = timed(worker, &["WATCHED"])
            .into_iter()
            .map(|(_, _, id)| id)
            .collect();
        let mut cursor = got.iter();
        let missed = expected
            .iter()
            .filter(|id| !cursor.any(|g| g == **id))
            .count();
        if missed > 0 {
            report.missed_changes += missed;
            report.fail(
                "watch-miss",
                format!(
                    "{} saw primaries {got:?}, etcd had {expected:?}",
                    worker.name
                ),
            );
        }
    }
    report.compared_changes = compared;
    // With three or more candidates stopped in turn, the third one told to
    // stop has seen the second take over; with fewer (some workers not
    // built, one killed) there may honestly be nothing to compare.
    let stopped_in_turn = told_to_stop.iter().flatten().count();
    if others_compared == 0 {
        let text = "no watcher had another member's election to report: nothing to compare";
        if stopped_in_turn >= 3 {
            report.problems.push(text.into());
        } else {
            report.notes.push(format!(
                "{text} ({stopped_in_turn} candidates stopped in turn)"
            ));
        }
    }
}
