//! `vinesync-etcd`: the etcd test harness for every language's test suite.
//!
//!   vinesync-etcd run [--members N] [--etcd-arg ARG]... [--tls|--mtls] [--auth] -- CMD [ARGS...]
//!       start etcd, run CMD with VINESYNC_NODES (comma-separated) and
//!       VINESYNC_ETCD_MEMBERS set, stop etcd, exit with CMD's status.
//!       --tls / --mtls: client port with TLS (mutual with --mtls), test
//!       certificates generated; CMD gets VINESYNC_CACERT (and
//!       VINESYNC_CERT, VINESYNC_KEY), plus VINESYNC_TEST_OTHER_CA,
//!       VINESYNC_TEST_OTHER_CERT, VINESYNC_TEST_OTHER_KEY (a CA and client
//!       certificate etcd does not trust). --auth: auth enabled, a user whose
//!       role may only use the prefix /secured/; CMD gets VINESYNC_PREFIX,
//!       VINESYNC_USER, VINESYNC_PASSWORD. VINESYNC_SECURED lists what is on.
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

use vinesync_testkit::{Auth, EtcdCluster, Tls};

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
    tls: Option<Tls>,
    auth: bool,
    command: Vec<String>,
}

/// The user, password and prefix of `--auth`.
const SECURED_PREFIX: &str = "/secured";

fn auth() -> Auth {
    Auth::new(
        "vinesync",
        &format!("vinesync-pw-{}", std::process::id()),
        &format!("{SECURED_PREFIX}/"),
    )
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: vinesync-etcd run [--members N] [--etcd-arg ARG]... [--tls|--mtls] [--auth] -- CMD [ARGS...]\n       \
         vinesync-etcd serve [--members N] [--etcd-arg ARG]..."
    );
    ExitCode::from(2)
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        members: 1,
        etcd_args: Vec::new(),
        tls: None,
        auth: false,
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
            "--tls" => parsed.tls = Some(Tls::Server),
            "--mtls" => parsed.tls = Some(Tls::Mutual),
            "--auth" => parsed.auth = true,
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
    let mut builder = EtcdCluster::builder()
        .members(args.members)
        .extra_args(args.etcd_args.clone());
    if let Some(tls) = args.tls {
        builder = builder.tls(tls);
    }
    let cluster = builder
        .start()
        .map_err(|e| format!("vinesync-etcd: could not start etcd: {e}"))?;
    if args.auth {
        auth()
            .enable(&cluster)
            .map_err(|e| format!("vinesync-etcd: could not enable auth: {e}"))?;
    }
    Ok(cluster)
}

/// The environment a command run against `cluster` gets.
fn environment(args: &Args, cluster: &EtcdCluster) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("VINESYNC_NODES", cluster.endpoints().join(",")),
        ("VINESYNC_ETCD_MEMBERS", cluster.len().to_string()),
    ];
    let mut secured = Vec::new();
    if let (Some(tls), Some(certs)) = (args.tls, cluster.certs()) {
        let path = |p: &std::path::Path| p.display().to_string();
        env.push(("VINESYNC_CACERT", path(&certs.ca)));
        if tls == Tls::Mutual {
            env.push(("VINESYNC_CERT", path(&certs.client_cert)));
            env.push(("VINESYNC_KEY", path(&certs.client_key)));
        }
        env.push(("VINESYNC_TEST_OTHER_CA", path(&certs.other_ca)));
        env.push(("VINESYNC_TEST_OTHER_CERT", path(&certs.other_client_cert)));
        env.push(("VINESYNC_TEST_OTHER_KEY", path(&certs.other_client_key)));
        secured.push(if tls == Tls::Mutual { "mtls" } else { "tls" });
    }
    if args.auth {
        let auth = auth();
        env.push(("VINESYNC_PREFIX", SECURED_PREFIX.to_string()));
        env.push(("VINESYNC_USER", auth.user));
        env.push(("VINESYNC_PASSWORD", auth.password));
        secured.push("auth");
    }
    env.push(("VINESYNC_SECURED", secured.join(",")));
    env
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
        .envs(environment(&args, &cluster))
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
