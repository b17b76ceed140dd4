//! The watchdog: a second process that stops CMD when vinesync stops
//! confirming that it still holds the lock (or the primary role) — when
//! vinesync is paused (SIGSTOP, a frozen VM), starved or killed. vinesync
//! itself cannot act then, and the lease may expire and the next holder
//! start while CMD still runs.
//!
//! vinesync writes `h` to the watchdog's stdin every `timeout / 4` while its
//! lock is not known lost and while it stops CMD itself after a loss (so
//! CMD gets the signal once), and `x` when CMD has exited. With no `h` for
//! `timeout` (TTL/3: the lease was renewed at most TTL/3 before the last
//! `h`, so it lives at least 2·TTL/3 after it), the watchdog sends the stop
//! signal to CMD's process group, then SIGKILL after the grace period. A
//! closed stdin (vinesync killed) counts as silence, never as "all is well".

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::args::{Stopping, WatchdogArgs};
use crate::signal_name;

const HEARTBEAT: u8 = b'h';
const DONE: u8 = b'x';
/// The watchdog's exit code when it had to stop CMD.
const FIRED: i32 = 3;

/// How long vinesync may stay silent before the watchdog stops CMD.
pub fn timeout_for(ttl: Duration) -> Duration {
    ttl / 3
}

/// vinesync's side: the watchdog process and the pipe to it.
#[derive(Debug)]
pub struct Watchdog {
    process: Child,
    pipe: Option<ChildStdin>,
    timeout: Duration,
}

impl Watchdog {
    /// Starts a watchdog for CMD's process group.
    pub fn start(pgid: i32, timeout: Duration, stopping: Stopping) -> std::io::Result<Watchdog> {
        // /proc/self/exe, not a path: it still works after the binary was
        // replaced or deleted (an upgrade while a lock is held).
        let mut process = Command::new("/proc/self/exe")
            .arg("watchdog")
            .arg(format!("--pgid={pgid}"))
            .arg(format!("--timeout={}ms", timeout.as_millis()))
            .arg(format!("--signal={}", stopping.signal))
            .arg(format!("--grace={}ms", stopping.grace.as_millis()))
            .stdin(Stdio::piped())
            .spawn()?;
        let pipe = process.stdin.take();
        Ok(Watchdog {
            process,
            pipe,
            timeout,
        })
    }

    /// How often to call [`Watchdog::confirm`].
    pub fn period(&self) -> Duration {
        self.timeout / 4
    }

    /// Tells the watchdog the lock is still held.
    pub fn confirm(&mut self) {
        if let Some(pipe) = self.pipe.as_mut() {
            // A failed write means the watchdog is gone; finish() reports it.
            let _ = pipe.write_all(&[HEARTBEAT]);
        }
    }

    /// CMD has exited: ends the watchdog. `true` if it had stopped CMD.
    pub fn finish(mut self) -> bool {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(&[DONE]);
        }
        match self.process.wait() {
            Ok(status) => status.code() == Some(FIRED),
            Err(_) => false,
        }
    }
}

/// `duration` from now; one the clock cannot represent (`--grace` of a
/// billion years) is 30 years.
fn after(duration: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(duration.min(FAR)).unwrap_or(now)
}

/// The watchdog process (`vinesync watchdog`, hidden).
pub fn run(args: &WatchdogArgs) -> i32 {
    // SAFETY: getpgrp has no memory effects.
    if args.pgid == unsafe { libc::getpgrp() } {
        note!(
            "vinesync watchdog: --pgid {} is this process's own group, not CMD's",
            args.pgid
        );
        return i32::from(crate::exit::USAGE);
    }
    // A Ctrl-C or hangup at the terminal reaches vinesync's group, which
    // this process is in: it must outlive vinesync, not die with it.
    for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP] {
        // SAFETY: setting a signal to SIG_IGN.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    let mut input = Input { open: true };
    let mut deadline = after(args.timeout);
    loop {
        match input.next(deadline) {
            Some(HEARTBEAT) => deadline = after(args.timeout),
            Some(DONE) => return 0,
            Some(_) => {}
            None => break,
        }
    }
    stop(args.pgid, args.timeout, args.stopping);
    // Keep listening during the grace period: `x` means CMD has exited.
    // If vinesync is dead, CMD was reaped by init: stop once the group is gone.
    let grace_end = after(args.stopping.grace);
    while Instant::now() < grace_end && group_exists(args.pgid) {
        let step = (Instant::now() + Duration::from_millis(50)).min(grace_end);
        if input.next(step) == Some(DONE) {
            return FIRED;
        }
    }
    if !group_exists(args.pgid) {
        return FIRED;
    }
    note!(
        "vinesync watchdog: grace period of {:?} over: sending SIGKILL to CMD's process group {}",
        args.stopping.grace,
        args.pgid
    );
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(-args.pgid, libc::SIGKILL) };
    FIRED
}

fn stop(pgid: i32, timeout: Duration, stopping: Stopping) {
    note!(
        "vinesync watchdog: no confirmation from vinesync for {timeout:?}, the lock may be lost: \
         sending {} to CMD (process group {pgid})",
        signal_name::name(stopping.signal)
    );
    // SAFETY: kill has no memory effects; vinesync does not reap CMD before
    // telling us, so the group id is still CMD's.
    unsafe { libc::kill(-pgid, stopping.signal) };
}

/// Whether any process (a zombie included) is left in the group.
fn group_exists(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// stdin, read one byte at a time with a deadline.
struct Input {
    open: bool,
}

impl Input {
    /// The next byte before `deadline`; `None` when the deadline passed.
    fn next(&mut self, deadline: Instant) -> Option<u8> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if !self.open {
                std::thread::sleep(left);
                continue;
            }
            let mut poll = libc::pollfd {
                fd: libc::STDIN_FILENO,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, ms) };
            if ready <= 0 {
                continue; // timeout or EINTR: the loop re-checks the deadline
            }
            // Unbuffered: a buffered reader would hide bytes from poll.
            let mut byte = 0u8;
            // SAFETY: reads at most one byte into `byte`.
            let read = unsafe { libc::read(libc::STDIN_FILENO, (&raw mut byte).cast(), 1) };
            match read {
                1 => return Some(byte),
                -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
                }
                _ => self.open = false, // end of file: vinesync is gone, silence
            }
        }
    }
}
