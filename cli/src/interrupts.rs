//! SIGINT, SIGTERM and SIGHUP to vinesync, caught from the start so an
//! interrupted wait removes its waiter key and a running CMD gets the
//! signal forwarded instead of being orphaned.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::exit::{self, Failure};
use crate::signal_name;

/// Signals this close to the first one come from the same event.
const SAME_EVENT: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Interrupts {
    int: Signal,
    term: Signal,
    hup: Signal,
    /// When the first signal came.
    first_at: Option<Instant>,
    /// The signal that cut a release short ([`Interrupts::unless_again`]):
    /// the releases after it are not waited for either.
    gave_up: Option<libc::c_int>,
}

impl Interrupts {
    pub fn catch() -> std::io::Result<Interrupts> {
        Ok(Interrupts {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            first_at: None,
            gave_up: None,
        })
    }

    /// The next signal received (its number).
    pub async fn next(&mut self) -> libc::c_int {
        let signal = tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.hup.recv() => libc::SIGHUP,
        };
        self.first_at.get_or_insert_with(Instant::now);
        signal
    }

    /// Runs `release` (an unlock, a resign, the handle's close: requests
    /// etcd must answer, each up to the request timeout) unless a signal
    /// comes first. A stalled etcd would otherwise keep a second Ctrl-C
    /// waiting for half a minute; instead vinesync stops waiting, says that
    /// `what` ends with its lease, and exits 130 — without waiting for any
    /// later release either. Signals within [`SAME_EVENT`] of the first
    /// one are its companions (systemd's SIGTERM with SIGHUP, a hangup
    /// that reaches the process twice), not a second request: ignored.
    pub async fn unless_again<T>(
        &mut self,
        what: &str,
        release: impl Future<Output = T>,
    ) -> Result<T, Failure> {
        let gave_up = |signal| {
            Failure::new(
                exit::INTERRUPTED,
                format!(
                    "{}: not waiting for etcd to release {what}; it ends when its lease expires (TTL)",
                    signal_name::name(signal)
                ),
            )
        };
        if let Some(signal) = self.gave_up {
            return Err(gave_up(signal));
        }
        let mut release = std::pin::pin!(release);
        loop {
            let earlier = self.first_at;
            tokio::select! {
                done = &mut release => return Ok(done),
                signal = self.next() => match earlier {
                    // The first signal of the run (CMD ended by itself and
                    // this release was not asked for by a signal): the
                    // release goes on, and the way out is said.
                    None => note!(
                        "vinesync: {}: still releasing {what}, waiting for etcd; \
                         send it again to stop waiting",
                        signal_name::name(signal)
                    ),
                    Some(at) if at.elapsed() < SAME_EVENT => {}
                    Some(_) => {
                        self.gave_up = Some(signal);
                        return Err(gave_up(signal));
                    }
                },
            }
        }
    }
}
