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
    /// For interleaved ratios: the interquartile range of the per-round
    /// ratios (`ratio` is their median).
    pub spread: Option<[f64; 2]>,
    /// A value that is not a latency (footprint rows: bytes, threads).
    pub note: Option<String>,
}

impl Row {
    /// A row that reports a value other than a latency.
    pub fn note(section: &str, name: &str, note: String) -> Row {
        Row {
            section: section.to_string(),
            name: name.to_string(),
            median_ns: f64::NAN,
            p99_ns: f64::NAN,
            ops_per_sec: f64::NAN,
            baseline: None,
            ratio: None,
            target: None,
            met: None,
            spread: None,
            note: Some(note),
        }
    }
}

/// Median and interquartile range of per-round ratios.
pub fn ratio_stats(ratios: &[f64]) -> (f64, [f64; 2]) {
    let mut sorted: Vec<f64> = ratios.iter().copied().filter(|r| r.is_finite()).collect();
    if sorted.is_empty() {
        return (f64::NAN, [f64::NAN, f64::NAN]);
    }
    sorted.sort_by(f64::total_cmp);
    let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    (at(0.5), [at(0.25), at(0.75)])
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

    /// Adds another measurement's samples, total time and operations.
    pub fn extend(&mut self, other: &Samples) {
        self.nanos.extend_from_slice(&other.nanos);
        self.total += other.total;
        self.ops += other.ops;
    }

    /// Mean time per operation (total / ops).
    pub fn mean_ns(&self) -> f64 {
        if self.ops == 0 {
            f64::NAN
        } else {
            self.total.as_nanos() as f64 / self.ops as f64
        }
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
            spread: None,
            note: None,
        }
    }
}
