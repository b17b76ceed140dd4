//! How far a `lock` call got, for the message of its `LockTimeout`: a lock
//! whose deadline passed while etcd had not answered (a stalled member, a
//! network that drops packets) must say so, not look merely busy.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::session::{RenewalTrouble, Session};

/// The stage of the attempt running when the deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stage {
    /// Getting the session's lease (a grant when there is none yet).
    Session = 0,
    /// The write of our key is sent and not answered.
    Writing = 1,
    /// Our key is written: waiting behind the holder (the store answered).
    Queued = 2,
    /// Waiting before the next attempt, after the store failed.
    Backoff = 3,
}

/// One `lock` call's stage and the store's last failure in it, shared
/// between its attempts and its deadline.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    stage: AtomicU8,
    failure: Mutex<Option<String>>,
    /// The session of the attempt waiting in the queue (set only when it
    /// waits): whether the store answers its keepalives is named.
    waiting_session: Mutex<Option<Weak<Session>>>,
}

impl Progress {
    pub fn set(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }

    /// Notes that the attempt on `session` waits in the queue.
    pub fn waiting_on(&self, session: &Arc<Session>) {
        *self
            .waiting_session
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::downgrade(session));
    }

    /// Whether the store stopped answering the keepalives of the session
    /// the queued attempt waits on.
    fn renewal_trouble(&self) -> Option<RenewalTrouble> {
        let waiting = self
            .waiting_session
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        waiting.as_ref()?.upgrade()?.renewal_trouble()
    }

    /// Notes a failure of the store (named if the deadline passes before
    /// an attempt gets queued).
    pub fn failed(&self, message: &str) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.to_string());
    }

    fn get(&self) -> Stage {
        match self.stage.load(Ordering::Relaxed) {
            0 => Stage::Session,
            1 => Stage::Writing,
            2 => Stage::Queued,
            _ => Stage::Backoff,
        }
    }

    /// The `LockTimeout` of lock `id` after `wait`, on the store named
    /// `store` ("etcd" or "memory"). Once queued, the store answered: an
    /// earlier failure is not blamed, but a store that stopped answering
    /// the waiting session's keepalives is (see
    /// [`crate::session::Session::renewal_trouble`]).
    pub fn timeout_error(&self, id: &str, wait: Duration, store: &str) -> Error {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let store = if store == "etcd" {
            "etcd"
        } else {
            "the memory store"
        };
        let mut message = Error::lock_timeout(id, wait).message().to_string();
        let stage = self.get();
        match stage {
            Stage::Session => message.push_str(&format!(
                "; {store} had not answered the request for its lease"
            )),
            Stage::Writing => {
                message.push_str(&format!("; {store} had not answered the write of its key"))
            }
            Stage::Queued => {
                if let Some(trouble) = self.renewal_trouble() {
                    message.push_str(&unanswered_keepalives(store, trouble));
                }
            }
            Stage::Backoff => {}
        }
        if let Some(failure) = failure.filter(|_| stage != Stage::Queued) {
            let attempt = if stage == Stage::Backoff {
                "its last"
            } else {
                "an earlier"
            };
            message.push_str(&format!("; {attempt} attempt at {store} failed: {failure}"));
        }
        Error::new(ErrorKind::LockTimeout, message)
    }
}

/// What a `LockTimeout` adds for a queued attempt whose store stopped
/// answering its session's keepalives.
fn unanswered_keepalives(store: &str, trouble: RenewalTrouble) -> String {
    let unanswered = trouble.unanswered;
    match trouble.last_error {
        Some(error) => format!(
            "; it was queued, but {store} answered none of its lease's keepalives \
             for {unanswered:.1?} (the last failed: {error})"
        ),
        None => format!(
            "; it was queued, but {store} had not answered its lease's keepalive \
             for {unanswered:.1?}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(stage: Stage, failure: Option<&str>) -> String {
        let progress = Progress::default();
        progress.set(stage);
        if let Some(failure) = failure {
            progress.failed(failure);
        }
        let error = progress.timeout_error("x", Duration::from_secs(1), "etcd");
        assert_eq!(error.kind(), ErrorKind::LockTimeout);
        error.message().to_string()
    }

    #[test]
    fn a_queued_lock_is_busy_and_blames_nothing() {
        assert_eq!(
            message(Stage::Queued, Some("refused")),
            "lock timeout: lock \"x\" not acquired within 1s"
        );
    }

    #[test]
    fn a_queued_lock_names_keepalives_its_store_stopped_answering() {
        let queued = |last_error: Option<&str>| {
            let trouble = RenewalTrouble {
                unanswered: Duration::from_millis(2500),
                last_error: last_error.map(str::to_string),
            };
            unanswered_keepalives("etcd", trouble)
        };
        assert_eq!(
            queued(None),
            "; it was queued, but etcd had not answered its lease's keepalive for 2.5s"
        );
        assert_eq!(
            queued(Some("connection refused")),
            "; it was queued, but etcd answered none of its lease's keepalives for 2.5s \
             (the last failed: connection refused)"
        );
    }

    #[test]
    fn an_unanswered_request_is_named_with_the_failure_before_it() {
        assert_eq!(
            message(Stage::Writing, None),
            "lock timeout: lock \"x\" not acquired within 1s; \
             etcd had not answered the write of its key"
        );
        assert_eq!(
            message(Stage::Session, Some("connection refused")),
            "lock timeout: lock \"x\" not acquired within 1s; \
             etcd had not answered the request for its lease; \
             an earlier attempt at etcd failed: connection refused"
        );
        assert_eq!(
            message(Stage::Backoff, Some("connection refused")),
            "lock timeout: lock \"x\" not acquired within 1s; \
             its last attempt at etcd failed: connection refused"
        );
    }
}
