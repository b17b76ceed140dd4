//! The table on stdout, and the same rows as JSON and CSV.

use std::fmt::Write as _;
use std::path::Path;

use crate::stats::Row;

fn human(ns: f64) -> String {
    if ns.is_nan() {
        "-".into()
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else {
        format!("{:.2} s", ns / 1_000_000_000.0)
    }
}

fn rate(ops: f64) -> String {
    if ops.is_nan() {
        "-".into()
    } else if ops >= 1_000_000.0 {
        format!("{:.2} M/s", ops / 1_000_000.0)
    } else if ops >= 1_000.0 {
        format!("{:.1} k/s", ops / 1_000.0)
    } else {
        format!("{ops:.0} /s")
    }
}

pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<48} {:>10} {:>10} {:>11} {:>7}  target (vs baseline)",
        "section", "measurement", "median", "p99", "throughput", "speed"
    );
    let _ = writeln!(out, "{}", "-".repeat(130));
    for r in rows {
        let ratio = r.ratio.map_or("-".to_string(), |x| format!("{x:.2}×"));
        let target = match (&r.target, r.met, &r.baseline) {
            (Some(t), Some(met), Some(b)) => {
                format!("{} {t} (vs {b})", if met { "MET   " } else { "MISSED" })
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<8} {:<48} {:>10} {:>10} {:>11} {:>7}  {}",
            r.section,
            r.name,
            human(r.median_ns),
            human(r.p99_ns),
            rate(r.ops_per_sec),
            ratio,
            target
        );
    }
    let _ = writeln!(
        out,
        "speed = baseline median / this median (above 1: faster than the baseline); \
         for p99 targets, baseline p99 / this p99."
    );
    out
}

pub fn write_files(rows: &[Row], dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(rows).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("results.json"), json)?;
    let mut csv =
        String::from("section,name,median_ns,p99_ns,ops_per_sec,baseline,speed_ratio,target,met\n");
    for r in rows {
        let _ = writeln!(
            csv,
            "{},{:?},{:.1},{:.1},{:.1},{:?},{},{:?},{}",
            r.section,
            r.name,
            r.median_ns,
            r.p99_ns,
            r.ops_per_sec,
            r.baseline.clone().unwrap_or_default(),
            r.ratio.map_or(String::new(), |x| format!("{x:.3}")),
            r.target.clone().unwrap_or_default(),
            r.met.map_or(String::new(), |m| m.to_string())
        );
    }
    std::fs::write(dir.join("results.csv"), csv)
}
