//! `make bench`: vinesync against the baselines a user would pick instead,
//! all measured in the same run on the same machine, printed as one table
//! and written to `bench-results/results.{json,csv}`.
//!
//! Targets are shown as met or missed; a benchmark never fails the build.

#![allow(clippy::print_stdout)]

mod etcd;
mod external;
mod failover;
mod footprint;
mod handoff;
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
    /// Interleaved rounds of an etcd ratio (baseline and subject alternating).
    pub etcd_rounds: usize,
    /// Held locks and parked waiters of the footprint rows.
    pub footprint: usize,
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
            etcd_rounds: 20,
            footprint: 10_000,
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
            etcd_rounds: 10,
            footprint: 1_000,
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

/// Sets `row`'s ratio from interleaved rounds: the median of the per-round
/// speed ratios (baseline time / row time), with their interquartile range.
pub fn compare_rounds(
    row: &mut Row,
    baseline: &str,
    ratios: &[f64],
    target: &str,
    met: impl Fn(f64) -> bool,
) {
    let (median, spread) = stats::ratio_stats(ratios);
    row.baseline = Some(format!("{baseline}, median of {} rounds", ratios.len()));
    row.ratio = Some(median);
    row.spread = Some(spread);
    row.target = Some(target.to_string());
    row.met = Some(met(median));
}

/// Tail-latency comparison: `row`'s p99 must be at most `limit` × the baseline's.
pub fn compare_p99(row: &mut Row, baseline: &str, baseline_p99: f64, limit: f64) {
    let ratio = baseline_p99 / row.p99_ns;
    row.baseline = Some(format!("{baseline} (p99)"));
    row.ratio = Some(ratio);
    row.target = Some(format!("p99 ≤ {limit}× baseline p99"));
    row.met = Some(row.p99_ns <= limit * baseline_p99);
}

/// How the etcd rows were measured (printed above the table).
const ETCD_RUNTIME_NOTE: &str = "The Rust etcd rows, the floor among them, run on a \
    current-thread tokio runtime: the thread waiting for an answer reads it (in the 8 and \
    64 clients rows, every client of either side shares that thread). C, Go and Python \
    call into the library's multi-thread runtime, so each of their requests also waits \
    for a hand-over between threads; their ratios include that.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("candidate") {
        return candidate(&args[2..]);
    }
    if args.get(1).map(String::as_str) == Some("floor-round") {
        return floor_round();
    }
    if args.get(1).map(String::as_str) == Some("footprint") {
        return footprint_child(&args[2..]);
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
    // `--etcd-only`: the etcd rows alone (the run on the newest pinned etcd).
    let etcd_only = args.iter().any(|a| a == "--etcd-only");
    let mut etcd_version = "none (VINESYNC_NODES not set)".to_string();
    let memory_rows = if etcd_only {
        Ok(Vec::new())
    } else {
        runtime.block_on(async {
            let mut rows = memory::run(&plan).await?;
            rows.extend(footprint::run(plan.footprint, false).await?);
            Ok::<_, vinesync::Error>(rows)
        })
    };
    if let Err(error) = &memory_rows {
        eprintln!("vinesync-bench: {error} ({})", error.kind());
        return ExitCode::FAILURE;
    }
    let etcd_rows = match std::env::var("VINESYNC_NODES") {
        Ok(nodes) if !nodes.is_empty() => {
            let nodes: Vec<String> = nodes.split(',').map(String::from).collect();
            // Every etcd row runs on a current-thread runtime, as the
            // floor rounds of the other languages do (`floor-round`): a
            // request's answer is read by the thread that waits for it.
            // Measured from a multi-thread runtime's `block_on`, each
            // request also pays a hand-over between threads (about a fifth
            // of the floor's time here), which hid part of vinesync's own
            // cost in the ratio.
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(etcd_runtime) => etcd_runtime.block_on(async {
                    etcd_version = etcd::server_version(&nodes).await;
                    let mut rows = etcd::run(&plan, nodes.clone()).await?;
                    if !etcd_only {
                        rows.extend(footprint::run(plan.footprint, true).await?);
                    }
                    Ok::<_, vinesync::Error>(rows)
                }),
                Err(error) => {
                    eprintln!("vinesync-bench: cannot start a runtime: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!(
                "vinesync-bench: VINESYNC_NODES is not set: etcd rows skipped (make bench sets it)"
            );
            Ok(Vec::new())
        }
    };
    let etcd_ran = matches!(&etcd_rows, Ok(rows) if !rows.is_empty());
    let rows = memory_rows.and_then(|mut rows| {
        rows.extend(etcd_rows?);
        Ok(rows)
    });
    let mut rows = match rows {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("vinesync-bench: {error} ({})", error.kind());
            return ExitCode::FAILURE;
        }
    };
    // `--external FILE`: rows the C, Python and Go bench programs measured.
    for file in flag_values(&args, "--external") {
        if let Err(error) = external::merge(&mut rows, &file) {
            eprintln!("vinesync-bench: {error}");
            return ExitCode::FAILURE;
        }
    }
    // `--external-rounds FILE`: the C, Go and Python etcd rows alternating
    // with the Rust floor in separate processes (see mk/bench.mk).
    for file in flag_values(&args, "--external-rounds") {
        if let Err(error) = external::merge_rounds(&mut rows, &file) {
            eprintln!("vinesync-bench: {error}");
            return ExitCode::FAILURE;
        }
    }
    println!("{}", table::render(&rows));
    let header = format!(
        "## {} run, etcd {etcd_version}, {}\n\nMachine: {}.{}{}",
        if quick {
            "Quick (`BENCH_ARGS=--quick`)"
        } else {
            "Full"
        },
        utc_now(),
        machine(),
        if etcd_only { " etcd rows only." } else { "" },
        if etcd_ran {
            format!("\n\n{ETCD_RUNTIME_NOTE}")
        } else {
            String::new()
        }
    );
    if let Err(error) = std::fs::create_dir_all(&out_dir)
        .and_then(|()| std::fs::write(out_dir.join("results.md"), table::markdown(&rows, &header)))
    {
        eprintln!(
            "vinesync-bench: writing {}/results.md: {error}",
            out_dir.display()
        );
        return ExitCode::FAILURE;
    }
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

/// The date and time, UTC (from `date`: no clock crate for one line).
fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown date".to_string(), |d| d.trim().to_string())
}

/// CPU model, cores and kernel, for the results file.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |k| k.trim().to_string());
    format!("{cpu}, {cores} cores available, Linux {kernel}")
}

/// `vinesync-bench floor-round`: one round of the 2-write floor
/// (`BENCH_ETCD_OPS` operations on `VINESYNC_NODES`), as a JSON line for
/// `--external-rounds`.
fn floor_round() -> ExitCode {
    let nodes: Vec<String> = std::env::var("VINESYNC_NODES")
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    let ops = std::env::var("BENCH_ETCD_OPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(25usize)
        .max(1);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vinesync-bench floor-round: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(etcd::floor_round(&nodes, ops)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("vinesync-bench floor-round: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `vinesync-bench footprint memory|etcd held|parked|threads N`: one
/// footprint measurement in a fresh process.
fn footprint_child(args: &[String]) -> ExitCode {
    let (Some(backend), Some(what), Some(n)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: vinesync-bench footprint memory|etcd held|parked|threads N");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vinesync-bench footprint: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(footprint::child(backend, what, n)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("vinesync-bench footprint: {error}");
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

/// Every value given to `flag` (`--flag VALUE`, possibly repeated), as paths.
fn flag_values<'a>(args: &'a [String], flag: &'a str) -> impl Iterator<Item = PathBuf> + 'a {
    args.iter()
        .zip(args.iter().skip(1))
        .filter(move |(f, _)| *f == flag)
        .map(|(_, value)| PathBuf::from(value))
}
