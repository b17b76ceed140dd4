//! Rows measured by the other languages' bench programs (bench/c/bench.c,
//! bench/python/bench.py, bindings/go/cmd/vinesync-bench-go), run by
//! `make bench` on the same etcd just before this binary. Each printed JSON
//! lines: section, language, kind, per-operation samples, total time and
//! operations. They are compared here with the baselines of this run.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::stats::{Row, Samples};

#[derive(Debug, Deserialize)]
struct Measurement {
    section: String,
    language: String,
    kind: String,
    samples_ns: Vec<f64>,
    total_ns: f64,
    ops: u64,
}

const MEMORY_FLOOR: &str = "floor: mutex map + fencing counter";
const ETCD_FLOOR: &str = "baseline: 2-write floor (txn put-if-absent + delete)";
const VINE_STYLE: &str = "baseline: vine-style lock (lease per lock)";
const PYTHON_ETCD3: &str = "baseline: python-etcd3 Lock acquire+release";

fn language_name(language: &str) -> &str {
    match language {
        "c" => "C",
        "python" => "Python",
        "go" => "Go",
        other => other,
    }
}

fn median_of(rows: &[Row], name: &str) -> Option<f64> {
    rows.iter().find(|r| r.name == name).map(|r| r.median_ns)
}

/// Reads `path`: etcd lock+unlock rounds of the C, Go and Python programs,
/// each run between two rounds of the Rust floor (`floor-round`) in
/// separate processes on the same etcd. A round's ratio is the mean of its
/// two neighbouring floor rounds over the program's mean; the program's
/// etcd row gets the median of its rounds' ratios and their spread.
pub fn merge_rounds(rows: &mut [Row], path: &Path) -> Result<(), String> {
    let lines = read_measurements(path)?;
    let mean = |m: &Measurement| m.total_ns / m.ops.max(1) as f64;
    let mut ratios: Vec<(String, f64)> = Vec::new();
    for (i, m) in lines.iter().enumerate() {
        if m.kind == "floor" {
            continue;
        }
        let before = lines[..i].iter().rev().find(|l| l.kind == "floor");
        let after = lines[i + 1..].iter().find(|l| l.kind == "floor");
        let floor = match (before, after) {
            (Some(b), Some(a)) => (mean(b) + mean(a)) / 2.0,
            (Some(f), None) | (None, Some(f)) => mean(f),
            (None, None) => continue,
        };
        ratios.push((language_name(&m.language).to_string(), floor / mean(m)));
    }
    for row in rows.iter_mut() {
        let Some(language) = row
            .name
            .strip_prefix("vinesync etcd lock+unlock (")
            .and_then(|rest| rest.strip_suffix(')'))
        else {
            continue;
        };
        let theirs: Vec<f64> = ratios
            .iter()
            .filter(|(l, _)| l == language)
            .map(|(_, r)| *r)
            .collect();
        if theirs.is_empty() || language == "Rust" {
            continue;
        }
        crate::compare_rounds(
            row,
            &format!("{ETCD_FLOOR} in alternating processes"),
            &theirs,
            "≥ 0.9× floor speed",
            |s| s >= 0.9,
        );
    }
    Ok(())
}

/// Reads `path` (JSON lines) and adds its rows, compared with this run's
/// baselines, after the Rust rows of their section.
pub fn merge(rows: &mut Vec<Row>, path: &Path) -> Result<(), String> {
    let mut added: Vec<Row> = Vec::new();
    for m in read_measurements(path)? {
        let mut samples = Samples::default();
        for ns in &m.samples_ns {
            samples.record(Duration::from_nanos(*ns as u64));
        }
        samples.set_throughput(Duration::from_nanos(m.total_ns as u64), m.ops);
        let language = language_name(&m.language);
        let name = match m.kind.as_str() {
            "baseline python-etcd3" => PYTHON_ETCD3.to_string(),
            _ => format!("vinesync {} {} ({language})", m.section, m.kind),
        };
        added.push(samples.row(&m.section, &name));
    }
    // Baselines first, so the vinesync rows can be compared with them.
    let etcd3 = added
        .iter()
        .find(|r| r.name == PYTHON_ETCD3)
        .map(|r| r.median_ns);
    let mut extra = Vec::new();
    for row in &mut added {
        if row.name == PYTHON_ETCD3 {
            continue;
        }
        let python = row.name.ends_with("(Python)");
        if row.section == "memory" {
            let limit_ns = if row.name.ends_with("(C)") {
                500.0
            } else {
                2_000.0
            };
            if let Some(floor) = median_of(rows, MEMORY_FLOOR) {
                crate::compare(row, MEMORY_FLOOR, floor, "", |_| true);
            }
            row.target = Some(format!("≤ {limit_ns} ns"));
            row.met = Some(row.median_ns <= limit_ns);
        } else if let Some(floor) = median_of(rows, ETCD_FLOOR) {
            // Replaced by the interleaved ratio when `--external-rounds` ran.
            crate::compare(row, ETCD_FLOOR, floor, "≥ 0.9× floor speed", |s| {
                s >= 0.9
            });
            if python {
                if let Some(etcd3) = etcd3 {
                    let mut vs = row.clone();
                    vs.name = "vinesync etcd lock+unlock (Python, vs python-etcd3)".into();
                    crate::compare(
                        &mut vs,
                        "python-etcd3 Lock",
                        etcd3,
                        "≥ 3× python-etcd3",
                        |s| s >= 3.0,
                    );
                    extra.push(vs);
                }
                if let Some(vine) = median_of(rows, VINE_STYLE) {
                    let mut vs = row.clone();
                    vs.name = "vinesync etcd lock+unlock (Python, vs vine-style)".into();
                    crate::compare(
                        &mut vs,
                        "vine-style lock",
                        vine,
                        "≥ 2× vine-style",
                        |s| s >= 2.0,
                    );
                    extra.push(vs);
                }
            }
        }
    }
    added.extend(extra);
    for row in added {
        let at = rows
            .iter()
            .rposition(|r| r.section == row.section)
            .map_or(rows.len(), |i| i + 1);
        rows.insert(at, row);
    }
    Ok(())
}

/// The measurements in `path`, one JSON object per non-empty line; an
/// error names the file and line.
fn read_measurements(path: &Path) -> Result<Vec<Measurement>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), number + 1))
        })
        .collect()
}
