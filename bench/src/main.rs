//! `make bench`: vinesync against the baselines a user would pick instead,
//! all measured in the same run on the same machine, printed as one table
//! and written to `bench-results/results.{json,csv}`.
//!
//! Targets are shown as met or missed; a benchmark never fails the build.

#![allow(clippy::print_stdout)]

mod etcd;
mod external;
mod failover;
mod memory;
mod stats;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use stats::Row;

/// How much to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Operations per timed batch (uncontended loops).
    pub batch: u64,
    /// Timed batches per measurement.
    pub batches: usize,
    /// Handoffs per contended measurement.
    pub handoffs: usize,
    /// Operations per etcd latency measurement.
    pub etcd_ops: usize,
    /// Handoffs per contended etcd measurement.
    pub etcd_handoffs: usize,
    /// Elections per resign measurement.
    pub etcd_elections: usize,
    /// Primaries killed in the crash-failover measurement.
    pub failovers: usize,
}

impl Plan {
    fn full() -> Self {
        Plan {
            batch: 2_000,
            batches: 50,
            handoffs: 4_000,
            etcd_ops: 500,
            etcd_handoffs: 500,
            etcd_elections: 50,
            failovers: 5,
        }
    }

    fn quick() -> Self {
        Plan {
            batch: 200,
            batches: 10,
            handoffs: 500,
            etcd_ops: 50,
            etcd_handoffs: 100,
            etcd_elections: 10,
            failovers: 2,
        }
    }
}

/// Sets `row`'s speed ratio against a baseline (baseline time / row time:
/// above 1 = faster) and whether `target` holds for that ratio.
pub fn compare(
    row: &mut Row,
    baseline: &str,
    baseline_ns: f64,
    target: &str,
    met: impl Fn(f64) -> bool,
) {
    let ratio = baseline_ns / row.median_ns;
    row.baseline = Some(baseline.to_string());
    row.ratio = Some(ratio);
    row.target = Some(target.to_string());
    row.met = Some(met(ratio));
}

/// Tail-latency comparison: `row`'s p99 must be at most `limit` × the baseline's.
pub fn compare_p99(row: &mut Row, baseline: &str, baseline_p99: f64, limit: f64) {
    let ratio = baseline_p99 / row.p99_ns;
    row.baseline = Some(format!("{baseline} (p99)"));
    row.ratio = Some(ratio);
    row.target = Some(format!("p99 ≤ {limit}× baseline p99"));
    row.met = Some(row.p99_ns <= limit * baseline_p99);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("candidate") {
        return candidate(&args[2..]);
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let out_dir = std::env::args()
        .skip_while(|a| a != "--out")
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("bench-results"));
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vinesync-bench: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        rows.extend(memory::run(&plan).await?);
        match std::env::var("VINESYNC_NODES") {
            Ok(nodes) if !nodes.is_empty() => {
                let nodes = nodes.split(',').map(String::from).collect();
                rows.extend(etcd::run(&plan, nodes).await?);
            }
            _ => eprintln!(
                "vinesync-bench: VINESYNC_NODES is not set: etcd rows skipped (make bench sets it)"
            ),
        }
        Ok::<_, vinesync::Error>(rows)
    });
    let mut rows = match rows {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("vinesync-bench: {error} ({})", error.kind());
            return ExitCode::FAILURE;
        }
    };
    // `--external FILE`: rows the C, Python and Go bench programs measured.
    let externals = args
        .iter()
        .zip(args.iter().skip(1))
        .filter(|(flag, _)| *flag == "--external")
        .map(|(_, file)| PathBuf::from(file));
    for file in externals {
        if let Err(error) = external::merge(&mut rows, &file) {
            eprintln!("vinesync-bench: {error}");
            return ExitCode::FAILURE;
        }
    }
    println!("{}", table::render(&rows));
    match table::write_files(&rows, &out_dir) {
        Ok(()) => {
            println!(
                "results written to {}/results.json and results.csv",
                out_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "vinesync-bench: writing results to {}: {error}",
                out_dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Child mode of the crash-failover measurement.
fn candidate(args: &[String]) -> ExitCode {
    let (Some(nodes), Some(id)) = (args.first(), args.get(1)) else {
        eprintln!("usage: vinesync-bench candidate NODES ID");
        return ExitCode::from(2);
    };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(failover::candidate(nodes, id)),
        Err(error) => {
            eprintln!("vinesync-bench candidate: cannot start a runtime: {error}");
            ExitCode::FAILURE
        }
    }
}
