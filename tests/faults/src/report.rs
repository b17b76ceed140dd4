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
    /// Writes rejected by the fencing check.
    pub stale_rejected: u64,
    /// Holders that reported the lost signal.
    pub lost_signals: usize,
    /// Overlapping primary terms of live processes (must be 0).
    pub double_primaries: usize,
    /// Primary changes a watcher did not report (must be 0).
    pub missed_changes: usize,
    pub leaked_keys: i64,
    pub leaked_leases: usize,
    pub failover_ms: Option<u128>,
    pub ttl_s: u64,
    /// Every broken expectation; empty = the scenario passed.
    pub problems: Vec<String>,
    pub seconds: f64,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn render(reports: &[Report]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<34} {:<22} {:>5} {:>6} {:>7} {:>5} {:>5} {:>6} {:>6} {:>5} {:>6} {:>12}  {}\n",
        "scenario",
        "languages",
        "procs",
        "acked",
        "counter",
        "lost",
        "stale",
        "lostsg",
        "double",
        "miss",
        "leaks",
        "failover/TTL",
        "result"
    ));
    for r in reports {
        let failover = r
            .failover_ms
            .map_or("-".to_string(), |ms| format!("{ms}ms/{}s", r.ttl_s));
        out.push_str(&format!(
            "{:<34} {:<22} {:>5} {:>6} {:>7} {:>5} {:>5} {:>6} {:>6} {:>5} {:>6} {:>12}  {}\n",
            r.scenario,
            r.languages.join(","),
            r.processes,
            r.acked,
            r.counter,
            r.lost_updates,
            r.stale_rejected,
            r.lost_signals,
            r.double_primaries,
            r.missed_changes,
            format!("{}k/{}l", r.leaked_keys, r.leaked_leases),
            failover,
            if r.passed() {
                "PASS".to_string()
            } else {
                format!("FAIL: {}", r.problems.join("; "))
            }
        ));
    }
    out.push_str("lost = acknowledged increments missing from the counter; stale = writes rejected by fencing; lostsg = holders told their lock was lost; double = overlapping primary terms; miss = primary changes a watcher missed; leaks = keys/leases left after the scenario\n");
    out
}
