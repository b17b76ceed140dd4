//! CMD: started in its own process group (so a stop reaches the programs it
//! starts too, and a Ctrl-C at the terminal reaches it once, through
//! vinesync), waited for without being reaped (so its pid and group id
//! cannot be reused while vinesync or the watchdog may still signal them),
//! stopped with a signal, a grace period and SIGKILL.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::exit::{self, Failure};
use crate::signal_name;

/// A running CMD.
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    pgid: i32,
    waiter: tokio::task::JoinHandle<()>,
    exited: bool,
}

/// Starts `cmd` with `env` added to vinesync's environment.
pub fn spawn(cmd: &[String], env: &[(&str, String)]) -> Result<Running, Failure> {
    let Some((program, args)) = cmd.split_first() else {
        return Err(Failure::new(exit::USAGE, "no command given after --"));
    };
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .spawn()
        .map_err(|error| {
            let code = match error.kind() {
                std::io::ErrorKind::NotFound => exit::NOT_FOUND,
                _ => exit::CANNOT_EXECUTE,
            };
            Failure::new(code, format!("cannot run {program:?}: {error}"))
        })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let waiter = tokio::task::spawn_blocking(move || wait_without_reaping(pid));
    Ok(Running {
        child,
        pgid: pid,
        waiter,
        exited: false,
    })
}

/// Blocks until `pid` has exited, leaving it a zombie for `reap`.
fn wait_without_reaping(pid: i32) {
    loop {
        // SAFETY: siginfo_t is plain data that waitid fills in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let id = libc::id_t::try_from(pid).unwrap_or(0);
        // SAFETY: waitid with a valid pointer to a siginfo_t.
        let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

impl Running {
    /// CMD's process group id (= its pid).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// Sends `signal` to CMD's process group.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill has no memory effects; the group cannot be reused
        // while CMD is not reaped.
        unsafe { libc::kill(-self.pgid, signal) };
    }

    /// Resolves when CMD has exited (cancel safe).
    pub async fn exited(&mut self) {
        if !self.exited {
            let _ = (&mut self.waiter).await;
            self.exited = true;
        }
    }

    /// Sends `signal`, waits `grace`, then SIGKILL, until CMD has exited.
    pub async fn stop(&mut self, signal: libc::c_int, grace: Duration) {
        self.signal(signal);
        if tokio::time::timeout(grace, self.exited()).await.is_err() {
            note!(
                "vinesync: CMD did not exit within {grace:?} after {}; sending SIGKILL",
                signal_name::name(signal)
            );
            self.signal(libc::SIGKILL);
            self.exited().await;
        }
    }

    /// Reaps CMD once it has exited; its exit code as a shell reports it.
    pub fn reap(mut self) -> u8 {
        match self.child.wait() {
            Ok(status) => exit_code(status),
            Err(error) => {
                note!("vinesync: waiting for CMD failed: {error}");
                exit::FAILURE
            }
        }
    }
}

/// CMD's status as a shell reports it: the code, or 128+N for signal N.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(exit::FAILURE),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(exit::FAILURE),
        (None, None) => exit::FAILURE,
    }
}
