//! Samples → median, p99 and throughput.

use std::time::Duration;

use serde::Serialize;

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: String,
    pub name: String,
    pub median_ns: f64,
    pub p99_ns: f64,
    pub ops_per_sec: f64,
    /// The baseline row this one is compared with, and the ratio
    /// (baseline median / this median: > 1 means faster than the baseline).
    pub baseline: Option<String>,
    pub ratio: Option<f64>,
    /// The target as text, and whether it is met.
    pub target: Option<String>,
    pub met: Option<bool>,
}

/// Latency samples of one measurement.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    nanos: Vec<f64>,
    total: Duration,
    ops: u64,
}

impl Samples {
    /// Records `ops` operations that took `elapsed` in all (one sample: the mean).
    pub fn record_batch(&mut self, elapsed: Duration, ops: u64) {
        if ops == 0 {
            return;
        }
        self.nanos.push(elapsed.as_nanos() as f64 / ops as f64);
        self.total += elapsed;
        self.ops += ops;
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.record_batch(elapsed, 1);
    }

    /// Throughput measured separately (e.g. concurrent clients).
    pub fn set_throughput(&mut self, total: Duration, ops: u64) {
        self.total = total;
        self.ops = ops;
    }

    pub fn percentile(&self, p: f64) -> f64 {
        if self.nanos.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.nanos.clone();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() - 1) as f64 * p).round() as usize;
        sorted[index.min(sorted.len() - 1)]
    }

    pub fn row(&self, section: &str, name: &str) -> Row {
        let secs = self.total.as_secs_f64();
        Row {
            section: section.to_string(),
            name: name.to_string(),
            median_ns: self.percentile(0.5),
            p99_ns: self.percentile(0.99),
            ops_per_sec: if secs > 0.0 {
                self.ops as f64 / secs
            } else {
                f64::NAN
            },
            baseline: None,
            ratio: None,
            target: None,
            met: None,
        }
    }
}
