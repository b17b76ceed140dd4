//! The mutant run: the suite against deliberately broken workers and
//! library builds; each must turn it red. Worker mutants are the Rust
//! worker with VINESYNC_FAULTS_MUTANT set; library mutants are the Rust
//! worker built with one of the core's `mutant-*` cargo features (test-only,
//! never default), found in `DIR/<feature>/vinesync-fault-worker`. Every
//! fault aims at the Rust worker. Prints, per mutant, the checks that caught
//! it; a mutant that survives — no scenario failed, or none by the checks
//! meant to catch it — fails the run.

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::ExitCode;

use crate::report::Report;
use crate::scenario::Context;
use crate::worker::Language;

enum Kind {
    /// VINESYNC_FAULTS_MUTANT=name in the Rust worker.
    Worker,
    /// The Rust worker built with the core feature of this name.
    Library,
}

struct Mutant {
    name: &'static str,
    kind: Kind,
    what: &'static str,
    /// The scenarios (name fragments) meant to catch it, in order; the
    /// bounded run stops at the first that does.
    scenarios: &'static [&'static str],
    /// The checks that count as catching it: a mutant only caught by
    /// others (a stall of unrelated cause) counts as surviving.
    checks: &'static [&'static str],
}

const MUTANTS: &[Mutant] = &[
    Mutant {
        name: "acts-after-release",
        kind: Kind::Worker,
        what: "worker releases the lock, then reads and writes",
        scenarios: &["mixed", "kill -9 of the holder"],
        checks: &["outside-hold", "unfaulted-rejection", "overlap", "shadow"],
    },
    Mutant {
        name: "ignores-lost",
        kind: Kind::Worker,
        what: "worker ignores the lost signal and a Lost unlock",
        scenarios: &["SIGSTOP of the holder", "partition of the holder"],
        checks: &["overlap", "told-lost"],
    },
    Mutant {
        name: "primary-after-demotion",
        kind: Kind::Worker,
        what: "candidate keeps acting as primary after DEMOTED",
        scenarios: &[
            "election: SIGSTOP of the primary",
            "election: loss of quorum",
        ],
        checks: &["one-primary", "double-primary", "told-demoted"],
    },
    Mutant {
        name: "watch-misses-others",
        kind: Kind::Worker,
        what: "watcher reports only its own elections, not other primaries",
        // The fault must move the primary role away from the Rust worker
        // (every fault aims at it): stopped first as the primary, it would
        // only have its own election to report.
        scenarios: &["election: SIGSTOP of the primary"],
        checks: &["watch-miss"],
    },
    Mutant {
        name: "mutant-no-l9-recheck",
        kind: Kind::Library,
        what: "library: no re-check of the waiter's key after its wait (L9; lock and campaign)",
        scenarios: &["waiters' keys deleted", "SIGSTOP of a waiter"],
        checks: &["overlap", "token-order", "unfaulted-rejection"],
    },
    Mutant {
        name: "mutant-unlock-no-guard",
        kind: Kind::Library,
        what: "library: unlock succeeds without its ownership check (L7)",
        scenarios: &["SIGSTOP of the holder", "partition of the holder"],
        checks: &["overlap", "told-lost"],
    },
    Mutant {
        name: "mutant-waiter-keeps-key",
        kind: Kind::Library,
        what: "library: a cancelled waiter keeps its key (L8)",
        scenarios: &["mixed", "Ctrl-C of a waiter"],
        checks: &["leak-alive", "ctrl-c-handoff"],
    },
];

/// Whether one of `checks` failed in `reports`.
fn caught(reports: &[Report], checks: &[&str]) -> bool {
    reports
        .iter()
        .any(|r| r.failed_checks.iter().any(|c| checks.contains(&c.as_str())))
}

/// Every failed check of every failed scenario, for the table.
fn failed_checks(reports: &[Report]) -> Vec<String> {
    let mut found = Vec::new();
    for r in reports.iter().filter(|r| !r.passed()) {
        let names = if r.failed_checks.is_empty() {
            vec![format!(
                "other ({})",
                r.problems.first().map_or("", String::as_str)
            )]
        } else {
            r.failed_checks.clone()
        };
        found.push(format!("{}: {}", r.scenario, names.join(", ")));
    }
    found
}

pub fn run(
    context: &mut Context,
    dir: &Path,
    bounded: bool,
    only: Option<&str>,
    out: &Path,
) -> ExitCode {
    context.aim_at = Some(Language::Rust);
    let mut table = String::from("mutant                    caught  by (scenario: checks)\n");
    let mut survivors = 0;
    for mutant in MUTANTS
        .iter()
        .filter(|m| only.is_none_or(|o| m.name.contains(o)))
    {
        eprintln!("vinesync-faults: mutant {} ({})", mutant.name, mutant.what);
        context.worker_env.clear();
        context.rust_worker = None;
        // The workers' short waits (cancelled acquisitions) only where the
        // mutant is about them: elsewhere a leak of the library's own (a
        // cancel while the create is in flight) could stall a scenario and
        // look like a catch.
        if !mutant.checks.contains(&"leak-alive") {
            context
                .worker_env
                .push(("VINESYNC_FAULTS_SHORT_WAIT_MS".into(), "0".into()));
        }
        match mutant.kind {
            Kind::Worker => context
                .worker_env
                .push(("VINESYNC_FAULTS_MUTANT".into(), mutant.name.into())),
            Kind::Library => {
                let worker = dir.join(mutant.name).join("vinesync-fault-worker");
                if !worker.exists() {
                    eprintln!(
                        "vinesync-faults: {} is missing (make test-faults-mutants builds it)",
                        worker.display()
                    );
                    survivors += 1;
                    table.push_str(&format!("{:<25} {:<7} not built\n", mutant.name, "NO"));
                    continue;
                }
                context.rust_worker = Some(worker.display().to_string());
            }
        }
        let mut reports = Vec::new();
        for fragment in mutant.scenarios {
            let selected = |name: &str| name.contains(fragment);
            reports.extend(crate::run_scenarios(context, bounded, &selected));
            if bounded && caught(&reports, mutant.checks) {
                break;
            }
        }
        let is_caught = caught(&reports, mutant.checks);
        if !is_caught {
            survivors += 1;
        }
        let failed = failed_checks(&reports);
        let row = format!(
            "{:<25} {:<7} {}\n",
            mutant.name,
            if is_caught { "yes" } else { "NO" },
            match (is_caught, failed.is_empty()) {
                (true, _) => failed.join("; "),
                (false, true) => "SURVIVED: every scenario passed".to_string(),
                (false, false) => format!(
                    "SURVIVED: none of {:?} failed; only {}",
                    mutant.checks,
                    failed.join("; ")
                ),
            }
        );
        eprint!("vinesync-faults: {row}");
        table.push_str(&row);
    }
    context.worker_env.clear();
    context.rust_worker = None;
    println!("{table}");
    if let Err(e) =
        std::fs::create_dir_all(out).and_then(|()| std::fs::write(out.join("mutants.txt"), &table))
    {
        eprintln!(
            "vinesync-faults: writing {}: {e}",
            out.join("mutants.txt").display()
        );
        return ExitCode::FAILURE;
    }
    if survivors == 0 {
        println!("every mutant was caught");
        ExitCode::SUCCESS
    } else {
        println!("{survivors} mutants survived or were not built");
        ExitCode::FAILURE
    }
}
