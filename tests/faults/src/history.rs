//! The history checker of the lock scenarios. Every worker stamps its
//! events on one clock (CLOCK_MONOTONIC, see `clock.rs`): HOLD (acquire
//! returned), RELEASE (release invoked), RELEASED, LOST; the resource logs
//! every access on the same clock. From these, without relying on fencing:
//!
//! - `overlap`: two holds overlap in time — allowed only if the earlier
//!   holder is the one a fault hit, the overlap began after the fault began,
//!   and it was told LOST within its fault window (plus a grace period);
//! - `outside-hold`: a process touched the resource with a token outside
//!   its hold of that token (before HOLD or after RELEASE/LOST);
//! - `unfaulted-rejection`: fencing turned away a process no fault hit;
//! - `token-order`: a hold whose token is lower than an earlier hold's;
//! - `shadow`: the unfenced shadow counter lost increments although no
//!   overlap was excused.

use std::time::Duration;

use crate::report::Report;
use crate::resource::Counts;
use crate::worker::Worker;

/// A fault aimed at one worker, and when it acted (clock nanoseconds).
#[derive(Debug, Clone, Copy)]
pub struct FaultWindow {
    pub worker: usize,
    pub start: u128,
    pub end: u128,
}

/// How long after its fault ends a hit holder may take to learn of the loss.
const TOLD_LOST_GRACE: Duration = Duration::from_secs(10);

/// One acquisition as its worker reported it.
#[derive(Debug, Clone)]
struct Hold {
    worker: usize,
    token: u64,
    start: u128,
    /// RELEASE or LOST (or the kill); `u128::MAX` if never ended.
    end: u128,
    lost_at: Option<u128>,
}

/// Parses a worker's "WORD token t" lines.
fn token_events(worker: &Worker, word: &str) -> Vec<(u64, u128)> {
    worker
        .lines()
        .iter()
        .filter_map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                [w, token, t] if *w == word => Some((token.parse().ok()?, t.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

fn holds(workers: &[Worker], killed: &[(usize, u128)]) -> Vec<Hold> {
    let mut all = Vec::new();
    for (i, worker) in workers.iter().enumerate() {
        let released = token_events(worker, "RELEASE");
        let lost = token_events(worker, "LOST");
        let kill = killed.iter().find(|(k, _)| *k == i).map(|(_, t)| *t);
        for (token, start) in token_events(worker, "HOLD") {
            let end_of = |events: &[(u64, u128)]| {
                events
                    .iter()
                    .filter(|(tk, t)| *tk == token && *t >= start)
                    .map(|(_, t)| *t)
                    .min()
            };
            let lost_at = end_of(&lost);
            let end = [end_of(&released), lost_at, kill.filter(|k| *k >= start)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(u128::MAX);
            all.push(Hold {
                worker: i,
                token,
                start,
                end,
                lost_at,
            });
        }
    }
    all.sort_by_key(|h| h.start);
    all
}

/// Checks one lock scenario's histories; fills the report's counts and
/// problems.
pub fn check(
    workers: &[Worker],
    counts: &Counts,
    faults: &[FaultWindow],
    killed: &[(usize, u128)],
    report: &mut Report,
) {
    let holds = holds(workers, killed);
    let name = |i: usize| workers[i].name.as_str();
    let ms = |t: u128| t / 1_000_000;
    let grace = TOLD_LOST_GRACE.as_nanos();
    let mut excused = 0;
    for (a, earlier) in holds.iter().enumerate() {
        for later in &holds[a + 1..] {
            if later.start >= earlier.end || later.worker == earlier.worker {
                continue;
            }
            let hit = faults.iter().any(|f| {
                f.worker == earlier.worker
                    && f.start <= later.start
                    && earlier
                        .lost_at
                        .is_some_and(|lost| lost <= f.end.saturating_add(grace))
            });
            if hit {
                excused += 1;
                continue;
            }
            report.overlapping_holds += 1;
            report.fail(
                "overlap",
                format!(
                    "{} held token {} from {} ms while {} held token {} ({}..{} ms){}",
                    name(later.worker),
                    later.token,
                    ms(later.start),
                    name(earlier.worker),
                    earlier.token,
                    ms(earlier.start),
                    if earlier.end == u128::MAX {
                        "end".to_string()
                    } else {
                        ms(earlier.end).to_string()
                    },
                    if earlier.lost_at.is_none() {
                        ", never told LOST"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
    report.excused_overlaps = excused;
    for pair in holds.windows(2) {
        if pair[1].token < pair[0].token {
            report.fail(
                "token-order",
                format!(
                    "{} was given token {} after {} held token {}",
                    name(pair[1].worker),
                    pair[1].token,
                    name(pair[0].worker),
                    pair[0].token
                ),
            );
        }
    }
    for access in &counts.accesses {
        let what = if access.write { "WRITE" } else { "READ" };
        let Some(hold) = holds.iter().find(|h| h.token == access.token) else {
            report.outside_hold += 1;
            report.fail(
                "outside-hold",
                format!(
                    "a {what} with token {} that nobody reported holding",
                    access.token
                ),
            );
            continue;
        };
        if access.at < hold.start || access.at > hold.end {
            report.outside_hold += 1;
            report.fail(
                "outside-hold",
                format!(
                    "{} sent a {what} with token {} at {} ms, outside its hold {}..{} ms",
                    name(hold.worker),
                    access.token,
                    ms(access.at),
                    ms(hold.start),
                    if hold.end == u128::MAX {
                        "end".to_string()
                    } else {
                        ms(hold.end).to_string()
                    },
                ),
            );
        }
        if access.accepted {
            continue;
        }
        let faulted = faults
            .iter()
            .any(|f| f.worker == hold.worker && hold.start <= f.end);
        if faulted {
            report.rejected_faulted += 1;
        } else {
            report.rejected_unfaulted += 1;
            report.fail(
                "unfaulted-rejection",
                format!(
                    "fencing turned away {}'s {what} with token {}, though no fault hit it",
                    name(hold.worker),
                    access.token
                ),
            );
        }
    }
    report.shadow_lost = counts.shadow_lost();
    if report.shadow_lost > 0 && excused == 0 {
        report.fail(
            "shadow",
            format!(
                "without fencing {} increments would have been lost, and no fault explains it",
                report.shadow_lost
            ),
        );
    }
}
