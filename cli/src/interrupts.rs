//! SIGINT, SIGTERM and SIGHUP to vinesync, caught from the start so an
//! interrupted wait removes its waiter key and a running CMD gets the
//! signal forwarded instead of being orphaned.

use std::future::Future;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::exit::{self, Failure};
use crate::signal_name;

#[derive(Debug)]
pub struct Interrupts {
    int: Signal,
    term: Signal,
    hup: Signal,
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
            gave_up: None,
        })
    }

    /// The next signal received (its number).
    pub async fn next(&mut self) -> libc::c_int {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.hup.recv() => libc::SIGHUP,
        }
    }

    /// Runs `release` (an unlock, a resign, the handle's close: requests
    /// etcd must answer, each up to the request timeout) unless a signal
    /// comes first. A stalled etcd would otherwise keep a second Ctrl-C
    /// waiting for half a minute; instead vinesync stops waiting, says that
    /// `what` ends with its lease, and exits 130 — without waiting for any
    /// later release either.
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
        tokio::select! {
            done = release => Ok(done),
            signal = self.next() => {
                self.gave_up = Some(signal);
                Err(gave_up(signal))
            }
        }
    }
}
