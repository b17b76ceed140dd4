//! `vinesync-etcd`: the etcd test harness for every language's test suite.
//!
//!   vinesync-etcd run [--members N] [--etcd-arg ARG]... -- CMD [ARGS...]
//!       start etcd, run CMD with VINESYNC_NODES (comma-separated) and
//!       VINESYNC_ETCD_MEMBERS set, stop etcd, exit with CMD's status.
//!   vinesync-etcd serve [--members N] [--etcd-arg ARG]...
//!       start etcd, print {"endpoints":[..],"pids":[..],"data_dir":".."},
//!       then obey stdin lines: kill I | stop I | restart I | pause I |
//!       resume I | quit (each answered "ok" or "error: ..."); EOF or
//!       SIGTERM/SIGINT stops etcd and exits.

#![allow(clippy::print_stdout)]

use std::io::{BufRead, Write};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use vinesync_testkit::EtcdCluster;

/// The last termination signal received (0 = none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    SIGNAL.store(signal, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
}

struct Args {
    members: usize,
    etcd_args: Vec<String>,
    command: Vec<String>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: vinesync-etcd run [--members N] [--etcd-arg ARG]... -- CMD [ARGS...]\n       \
         vinesync-etcd serve [--members N] [--etcd-arg ARG]..."
    );
    ExitCode::from(2)
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        members: 1,
        etcd_args: Vec::new(),
        command: Vec::new(),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--members" => {
                let n = args.next().ok_or("--members needs a number")?;
                parsed.members = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=7).contains(n))
                    .ok_or(format!("--members {n:?}: expected 1 to 7"))?;
            }
            "--etcd-arg" => parsed
                .etcd_args
                .push(args.next().ok_or("--etcd-arg needs a value")?),
            "--" => {
                parsed.command = args.collect();
                break;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn start(args: &Args) -> Result<EtcdCluster, String> {
    EtcdCluster::builder()
        .members(args.members)
        .extra_args(args.etcd_args.clone())
        .start()
        .map_err(|e| format!("vinesync-etcd: could not start etcd: {e}"))
}

fn run(args: Args) -> ExitCode {
    let Some((program, rest)) = args.command.split_first() else {
        return usage();
    };
    let cluster = match start(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut child = match Command::new(program)
        .args(rest)
        .env("VINESYNC_NODES", cluster.endpoints().join(","))
        .env("VINESYNC_ETCD_MEMBERS", cluster.len().to_string())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("vinesync-etcd: cannot run {program:?}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut forwarded = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(1),
            Ok(None) => {}
            Err(e) => {
                eprintln!("vinesync-etcd: waiting for {program:?}: {e}");
                break 1;
            }
        }
        let signal = SIGNAL.load(Ordering::SeqCst);
        if signal != 0 && !forwarded {
            forwarded = true;
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: our own child's pid.
                unsafe { libc::kill(pid, signal) };
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(cluster);
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

fn obey(cluster: &mut EtcdCluster, line: &str) -> Result<bool, String> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    if verb == "quit" {
        return Ok(false);
    }
    let index: usize = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or(format!("{line:?}: expected '<verb> <member index>'"))?;
    let result = match verb {
        "kill" => cluster.kill_member(index),
        "stop" => cluster.stop_member(index),
        "restart" => cluster.restart_member(index),
        "pause" => cluster.pause_member(index),
        "resume" => cluster.resume_member(index),
        other => return Err(format!("unknown command {other:?}")),
    };
    result.map(|()| true).map_err(|e| e.to_string())
}

fn serve(args: Args) -> ExitCode {
    let mut cluster = match start(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let pids: Vec<u32> = (0..cluster.len()).filter_map(|i| cluster.pid(i)).collect();
    let hello = serde_json::json!({
        "endpoints": cluster.endpoints(),
        "pids": pids,
        "data_dir": cluster.data_dir().display().to_string(),
    });
    let mut out = std::io::stdout();
    if writeln!(out, "{hello}").and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        if SIGNAL.load(Ordering::SeqCst) != 0 {
            break;
        }
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => {
                let answer = match obey(&mut cluster, line.trim()) {
                    Ok(false) => break,
                    Ok(true) => "ok".to_string(),
                    Err(e) => format!("error: {e}"),
                };
                if writeln!(out, "{answer}")
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(cluster);
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    install_signal_handlers();
    let mut argv = std::env::args().skip(1);
    let mode = argv.next().unwrap_or_default();
    if mode == "--help" || mode == "-h" {
        println!(
            "{}",
            include_str!("vinesync-etcd.rs")
                .lines()
                .skip(2)
                .take(9)
                .map(|l| l.trim_start_matches("//!"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        return ExitCode::SUCCESS;
    }
    let args = match parse(argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("vinesync-etcd: {e}");
            return usage();
        }
    };
    match mode.as_str() {
        "run" => run(args),
        "serve" => serve(args),
        _ => usage(),
    }
}
