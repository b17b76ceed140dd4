//! Runs CMD while a lock or a primary role lasts: forwards vinesync's
//! signals to it, keeps the watchdog informed, and stops CMD (signal, grace,
//! SIGKILL) as soon as the role is lost. Shared by `lock` and `elect`.

use std::future::Future;
use std::time::Duration;

use crate::args::Stopping;
use crate::child;
use crate::exit::{self, Failure};
use crate::interrupts::Interrupts;
use crate::signal_name;
use crate::watchdog::{self, Watchdog};

/// How a supervised run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// CMD exited on its own (or after a forwarded signal) with this code.
    Exited(u8),
    /// The role was lost and CMD was stopped (its code).
    Lost(u8),
}

/// What is supervised: a lock guard or a leader.
pub trait Role {
    /// Whether the role is still held, as far as this process knows.
    fn holds(&self) -> bool;
    /// Resolves when the role is lost.
    fn lost(&self) -> impl Future<Output = ()>;
}

/// Starts CMD with `env` and supervises it while `role` lasts.
pub async fn run<R: Role>(
    cmd: &[String],
    env: &[(&str, String)],
    role: &R,
    what: &str,
    ttl: Duration,
    stopping: Stopping,
    interrupts: &mut Interrupts,
) -> Result<Ended, Failure> {
    let mut running = child::spawn(cmd, env)?;
    let mut watchdog = match Watchdog::start(running.pgid(), watchdog::timeout_for(ttl), stopping) {
        Ok(watchdog) => watchdog,
        Err(error) => {
            running.signal(libc::SIGKILL);
            running.exited().await;
            let _ = running.reap();
            return Err(Failure::new(
                exit::FAILURE,
                format!("cannot start the watchdog process: {error}"),
            ));
        }
    };
    let mut tick = tokio::time::interval(watchdog.period());
    let lost = role.lost();
    tokio::pin!(lost);
    let mut was_lost = false;
    loop {
        tokio::select! {
            _ = running.exited() => break,
            _ = &mut lost => {
                note!(
                    "vinesync: {what} lost: sending {} to CMD (process group {})",
                    signal_name::name(stopping.signal),
                    running.pgid()
                );
                was_lost = true;
                // vinesync stops CMD itself. It goes on confirming that it
                // is alive meanwhile, or the watchdog would send the signal
                // a second time during CMD's grace period; frozen, it stops
                // confirming and the watchdog still takes over.
                let stop = running.stop(stopping.signal, stopping.grace);
                tokio::pin!(stop);
                loop {
                    tokio::select! {
                        () = &mut stop => break,
                        _ = tick.tick() => watchdog.confirm(),
                    }
                }
                break;
            }
            signal = interrupts.next() => running.signal(signal),
            _ = tick.tick() => {
                if role.holds() {
                    watchdog.confirm();
                }
            }
        }
    }
    let fired = watchdog.finish();
    let code = running.reap();
    if was_lost || fired {
        Ok(Ended::Lost(code))
    } else {
        Ok(Ended::Exited(code))
    }
}
