//! What each scenario measured, and the summary the suite prints and writes.

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub languages: Vec<String>,
    pub processes: usize,
    /// Increments the workers saw acknowledged, and the final counter.
    pub acked: u64,
    pub counter: u64,
    /// Acknowledged increments missing from the counter (must be 0).
    pub lost_updates: u64,
    /// Accesses rejected by the fencing check.
    pub stale_rejected: u64,
    /// ... of them by processes a fault hit, and by processes none hit
    /// (must be 0).
    pub rejected_faulted: u64,
    pub rejected_unfaulted: u64,
    /// Increments the unfenced shadow counter lost: what fencing saved.
    pub shadow_lost: u64,
    /// Holds overlapping in time that no fault explains (must be 0), and
    /// those a fault explains (the hit holder was told LOST).
    pub overlapping_holds: usize,
    pub excused_overlaps: usize,
    /// Resource accesses outside the accessing process's hold (must be 0).
    pub outside_hold: usize,
    /// Keys under the prefix while every worker was alive and idle (must
    /// be 0: nothing held, every cancelled waiter's key gone).
    pub keys_while_alive: Option<i64>,
    /// The longest time from one holder's release to the next hold.
    pub max_handoff_ms: Option<u128>,
    /// After each fault: how many processes believed they were primary
    /// once things settled (must be 1 each time).
    pub primaries_after_fault: Vec<usize>,
    /// Holders that reported the lost signal.
    pub lost_signals: usize,
    /// Overlapping primary terms of live processes (must be 0).
    pub double_primaries: usize,
    /// Primary changes a watcher did not report (must be 0).
    pub missed_changes: usize,
    /// Primary changes compared against the watchers' reports, in all.
    pub compared_changes: usize,
    pub leaked_keys: i64,
    pub leaked_leases: usize,
    pub failover_ms: Option<u128>,
    pub ttl_s: u64,
    /// What the run saw that explains a fault's reach (a server-side
    /// fault), shown with the result; never a failure by itself.
    pub notes: Vec<String>,
    /// Every broken expectation; empty = the scenario passed.
    pub problems: Vec<String>,
    /// The named checks that failed (see `fail`).
    pub failed_checks: Vec<String>,
    /// The seed of a randomized scenario.
    pub seed: Option<u64>,
    pub seconds: f64,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// A broken expectation found by the named check.
    pub fn fail(&mut self, check: &str, text: impl Into<String>) {
        self.problems.push(format!("[{check}] {}", text.into()));
        if !self.failed_checks.iter().any(|c| c == check) {
            self.failed_checks.push(check.to_string());
        }
    }
}

pub fn render(reports: &[Report]) -> String {
    let mut out = String::new();
    let row = |cells: [&str; 15]| {
        format!(
            "{:<38} {:<18} {:>5} {:>6} {:>5} {:>6} {:>9} {:>7} {:>7} {:>7} {:>6} {:>6} {:>8} {:>11}  {}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7],
            cells[8], cells[9], cells[10], cells[11], cells[12], cells[13], cells[14]
        )
    };
    out.push_str(&row([
        "scenario",
        "languages",
        "procs",
        "acked",
        "lost",
        "shadow",
        "rej f/nf",
        "overlap",
        "outside",
        "primary",
        "double",
        "miss",
        "alive-k",
        "failover",
        "result",
    ]));
    for r in reports {
        let primaries = if r.primaries_after_fault.is_empty() {
            "-".to_string()
        } else {
            r.primaries_after_fault
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("/")
        };
        out.push_str(&row([
            &match r.seed {
                Some(seed) => format!("{} (seed {seed})", r.scenario),
                None => r.scenario.clone(),
            },
            &r.languages.join(","),
            &r.processes.to_string(),
            &r.acked.to_string(),
            &r.lost_updates.to_string(),
            &r.shadow_lost.to_string(),
            &format!("{}/{}", r.rejected_faulted, r.rejected_unfaulted),
            &format!("{}+{}", r.overlapping_holds, r.excused_overlaps),
            &r.outside_hold.to_string(),
            &primaries,
            &r.double_primaries.to_string(),
            &if r.compared_changes == 0 {
                r.missed_changes.to_string()
            } else {
                format!("{}/{}", r.missed_changes, r.compared_changes)
            },
            &r.keys_while_alive
                .map_or("-".to_string(), |k| k.to_string()),
            &r.failover_ms
                .map_or("-".to_string(), |ms| format!("{ms}ms/{}s", r.ttl_s)),
            &{
                let result = if r.passed() {
                    "PASS".to_string()
                } else {
                    format!("FAIL: {}", r.problems.join("; "))
                };
                if r.notes.is_empty() {
                    result
                } else {
                    format!("{result} (note: {})", r.notes.join("; "))
                }
            },
        ]));
    }
    out.push_str(
        "acked = increments acknowledged (the counter must match); lost = acknowledged increments missing; \
shadow = increments an unfenced store would have lost; rej f/nf = fencing rejections of processes a fault hit / \
of processes none hit (must be 0); overlap = holds overlapping in time that no fault explains (must be 0) + those \
a fault explains; outside = resource accesses outside a hold (must be 0); primary = processes believing they are \
primary after each fault (must be 1); double = overlapping primary terms; miss = primary changes a watcher missed (/ of those compared); \
alive-k = keys left while every worker was alive and idle (must be 0); (note: …) = a server-side fault the run \
saw (etcd revoking leases itself), which widens that fault's window\n",
    );
    out
}
