//! `vinesync`: run a program only while holding a lock or while primary, and
//! see who holds what. Speaks etcd through the vinesync core; interoperates
//! with `etcdctl lock`/`elect` on the same keys.

#[macro_use]
mod output;

mod args;
mod child;
mod cmd_elect;
mod cmd_lock;
mod cmd_locks;
mod cmd_members;
mod cmd_watch;
mod connect;
mod duration;
mod exit;
mod interrupts;
mod name;
mod reader_gone;
mod signal_name;
mod supervise;
mod watchdog;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use args::{Cli, Command};
use exit::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help, --version
            output::written(error.print());
            return written_out(ExitCode::SUCCESS);
        }
        Err(error) if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return fail(&Failure::new(
                exit::USAGE,
                "a command is needed: lock, elect, members, watch or locks (see --help)",
            ))
        }
        Err(error) => return fail(&Failure::new(exit::USAGE, clap_problem(&error.to_string()))),
    };
    if nothing_after_dashes(&cli) {
        return fail(&Failure::new(
            exit::USAGE,
            "no command given after -- (leave out -- to hold until interrupted)",
        ));
    }
    if let Command::Watchdog(args) = &cli.command {
        return ExitCode::from(u8::try_from(watchdog::run(args)).unwrap_or(exit::FAILURE));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&Failure::new(
                exit::FAILURE,
                format!("cannot start the runtime: {error}"),
            ))
        }
    };
    let outcome = runtime.block_on(dispatch(&cli));
    // Background tasks (a release in flight) get no more time: close() already revoked.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => written_out(ExitCode::from(code)),
        Err(failure) => fail(&failure),
    }
}

/// `code`, unless some output was lost (stdout full or failing): then an
/// error that says so.
fn written_out(code: ExitCode) -> ExitCode {
    match output::write_failure() {
        Some(error) => fail(&Failure::new(
            exit::FAILURE,
            format!("writing to stdout: {error}"),
        )),
        None => code,
    }
}

async fn dispatch(cli: &Cli) -> Result<u8, Failure> {
    let connection = &cli.connection;
    match &cli.command {
        Command::Lock(args) => cmd_lock::run(connection, args).await,
        Command::Elect(args) if args.list => {
            cmd_members::run(connection, &args.ns, args.json).await
        }
        Command::Elect(args) => cmd_elect::run(connection, args).await,
        Command::Members(args) => cmd_members::run(connection, &args.ns, args.json).await,
        Command::Watch(args) => cmd_watch::run(connection, args).await,
        Command::Locks(args) => cmd_locks::run(connection, args).await,
        Command::Watchdog(_) => Ok(0), // handled before the runtime starts
    }
}

/// `lock NAME --` or `elect NAME --` with nothing after `--` (an empty
/// `$CMD` in a script): an error, not the hold mode that leaving out `--`
/// asks for, which would hold the lock until interrupted.
fn nothing_after_dashes(cli: &Cli) -> bool {
    let no_cmd = match &cli.command {
        Command::Lock(args) => args.cmd.is_empty(),
        Command::Elect(args) => args.cmd.is_empty() && !args.list,
        _ => false,
    };
    no_cmd && std::env::args_os().skip(1).any(|arg| arg == "--")
}

/// One line on stderr, then the failure's exit code.
fn fail(failure: &Failure) -> ExitCode {
    note!("vinesync: {}", first_line(&failure.message));
    ExitCode::from(failure.code)
}

/// The first line of a message (errors from etcd may carry more).
fn first_line(message: &str) -> String {
    let line = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message);
    line.trim().to_string()
}

/// clap's errors span several lines: the problem (its first paragraph,
/// e.g. "required arguments were not provided:" and their names), then
/// tips and usage. Keeps the problem, on one line (clap's tip, "to pass
/// '--x' as a value, use '-- --x'", would run `--x` as CMD here).
fn clap_problem(message: &str) -> String {
    let problem: Vec<&str> = message
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let problem = problem.join(" ");
    let problem = problem.strip_prefix("error: ").unwrap_or(&problem);
    format!("{problem} (see --help)")
}
