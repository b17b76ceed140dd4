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
        if let Some(note) = &r.note {
            let _ = writeln!(
                out,
                "{:<8} {:<48} {note}  {}",
                r.section,
                r.name,
                target_text(r)
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{:<8} {:<48} {:>10} {:>10} {:>11} {:>7}  {}",
            r.section,
            r.name,
            human(r.median_ns),
            human(r.p99_ns),
            rate(r.ops_per_sec),
            ratio_text(r),
            target_text(r)
        );
    }
    let _ = writeln!(out, "{LEGEND}");
    out
}

const LEGEND: &str = "speed = baseline median / this median (above 1: faster than the baseline); \
    for p99 targets, baseline p99 / this p99. Interleaved rows: the median of the per-round \
    ratios (baseline and subject alternating in short rounds), [interquartile range].";

fn ratio_text(r: &Row) -> String {
    match (r.ratio, r.spread) {
        (Some(x), Some([low, high])) => format!("{x:.2}× [{low:.2}–{high:.2}]"),
        (Some(x), None) => format!("{x:.2}×"),
        _ => "-".to_string(),
    }
}

fn target_text(r: &Row) -> String {
    match (&r.target, r.met, &r.baseline) {
        (Some(t), Some(met), Some(b)) => {
            format!("{} {t} (vs {b})", if met { "MET   " } else { "MISSED" })
        }
        _ => String::new(),
    }
}

/// The same table in Markdown, under a header naming the machine, the
/// etcd version and the date (for bench/RESULTS.md).
pub fn markdown(rows: &[Row], header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    let _ = writeln!(
        out,
        "| section | measurement | median | p99 | throughput | speed [IQR] | target | met |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|---|");
    for r in rows {
        let (median, p99, rate_text, speed) = match &r.note {
            Some(note) => (note.clone(), String::new(), String::new(), String::new()),
            None => (
                human(r.median_ns),
                human(r.p99_ns),
                rate(r.ops_per_sec),
                ratio_text(r),
            ),
        };
        let target = match (&r.target, &r.baseline) {
            (Some(t), Some(b)) if b != "-" => format!("{t} (vs {b})"),
            (Some(t), _) => t.clone(),
            _ => String::new(),
        };
        let met = match r.met {
            Some(true) if !target.is_empty() => "MET",
            Some(false) => "**MISSED**",
            _ => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {median} | {p99} | {rate_text} | {speed} | {} | {met} |",
            r.section,
            r.name,
            target.replace('|', "/")
        );
    }
    let _ = writeln!(out, "\n{LEGEND}");
    out
}

pub fn write_files(rows: &[Row], dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(rows).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("results.json"), json)?;
    let mut csv = String::from(
        "section,name,median_ns,p99_ns,ops_per_sec,baseline,speed_ratio,ratio_q1,ratio_q3,target,met,note\n",
    );
    for r in rows {
        let _ = writeln!(
            csv,
            "{},{:?},{:.1},{:.1},{:.1},{:?},{},{},{},{:?},{},{:?}",
            r.section,
            r.name,
            r.median_ns,
            r.p99_ns,
            r.ops_per_sec,
            r.baseline.clone().unwrap_or_default(),
            r.ratio.map_or(String::new(), |x| format!("{x:.3}")),
            r.spread.map_or(String::new(), |s| format!("{:.3}", s[0])),
            r.spread.map_or(String::new(), |s| format!("{:.3}", s[1])),
            r.target.clone().unwrap_or_default(),
            r.met.map_or(String::new(), |m| m.to_string()),
            r.note.clone().unwrap_or_default()
        );
    }
    std::fs::write(dir.join("results.csv"), csv)
}
