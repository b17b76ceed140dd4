//! The lock recipe (SPEC L1–L10, RECIPES "Mutex"), written once over the
//! store operations:
//!
//! 1. put-if-absent `{dir}{lease:x}_{seq:x}` with the session's lease, and
//!    read the first key of `{dir}` in the same transaction; our create
//!    revision is the fencing token;
//! 2. if the first key is ours we hold the lock; otherwise wait for the
//!    predecessor only (`queue.rs`);
//! 3. re-read our own key before reporting success (L9);
//! 4. any exit without the lock deletes our key (L8).

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};
use crate::queue::{self, KeyCleanup};
use crate::session::{self, Session};
use crate::store::Store;

/// What an acquisition attempt ended with.
pub(crate) enum Attempt {
    Held(Arc<Held>),
    /// `try_lock` found someone else first.
    Busy,
    /// Our key or lease vanished while we waited; try again with a fresh key.
    Retry,
}

/// One attempt: create the key, then (unless `try_only`) wait for the
/// predecessors and re-check.
pub(crate) async fn attempt(
    session: Arc<Session>,
    id: &str,
    dir: &str,
    key: String,
    value: Vec<u8>,
    try_only: bool,
) -> Result<Attempt> {
    let backend = session.backend().clone();
    let created = match backend.create(&key, value, session.lease(), dir).await {
        Ok(created) => created,
        Err(error) if error.kind() == ErrorKind::Lost => {
            session.mark_lost();
            return Ok(Attempt::Retry);
        }
        Err(error) => return Err(error),
    };
    let revision = created.revision;
    let cleanup = KeyCleanup::new(session.clone(), key.clone(), revision);
    let first_is_ours = created
        .first
        .as_ref()
        .is_some_and(|first| first.create_revision == revision);
    if !first_is_ours {
        if try_only {
            cleanup.delete_now().await?;
            return Ok(Attempt::Busy);
        }
        let mut lost = session.lost_signal();
        tokio::select! {
            waited = queue::wait_for_predecessors(&backend, dir, revision) => waited?,
            _ = session::wait_lost(&mut lost) => return Ok(Attempt::Retry),
        }
        let recheck = !cfg!(feature = "mutant-no-l9-recheck");
        if recheck && !queue::still_ours(&backend, &key, revision).await? {
            cleanup.disarm(); // the key is already gone
            return Ok(Attempt::Retry);
        }
    }
    cleanup.disarm();
    Ok(Attempt::Held(Held::new(
        session,
        id.to_string(),
        dir.to_string(),
        key,
        revision,
    )))
}

/// A lock this handle holds: its key, fencing token and session.
pub(crate) struct Held {
    pub id: String,
    /// The lock's directory (`{prefix}/locks/{esc(id)}/`).
    pub dir: String,
    pub key: String,
    pub revision: i64,
    pub session: Arc<Session>,
    /// Lazily started watcher of "lost" (session lost or key deleted).
    monitor: OnceLock<watch::Receiver<bool>>,
    /// Dropped or fired when we release, so our own delete is not "lost".
    released: watch::Sender<bool>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("revision", &self.revision)
            .finish()
    }
}

impl Held {
    fn new(
        session: Arc<Session>,
        id: String,
        dir: String,
        key: String,
        revision: i64,
    ) -> Arc<Held> {
        Arc::new(Held {
            id,
            dir,
            key,
            revision,
            session,
            monitor: OnceLock::new(),
            released: watch::channel(false).0,
        })
    }

    /// `true` once the lock is lost (SPEC L6).
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        self.monitor
            .get_or_init(|| {
                let (tx, rx) = watch::channel(self.session.is_lost());
                let backend = self.session.backend().clone();
                let key = self.key.clone();
                let dir = self.dir.clone();
                let revision = self.revision;
                let mut session_lost = self.session.lost_signal();
                let mut released = self.released.subscribe();
                self.session.runtime().spawn(async move {
                    tokio::select! {
                        biased;
                        _ = released.wait_for(|r| *r) => return,
                        _ = session::wait_lost(&mut session_lost) => {}
                        deleted = queue::wait_until_gone(&backend, &dir, &key, revision) => {
                            if let Err(error) = deleted {
                                tracing::warn!(%key, %error, "watching a held lock failed");
                            }
                        }
                    }
                    if !*released.borrow() {
                        tracing::warn!(%key, "lock lost");
                        let _ = tx.send(true);
                    }
                });
                rx
            })
            .clone()
    }

    /// Releases the lock: deletes our key if it is still ours.
    /// `Err(Lost)` when it was already gone.
    pub async fn release(&self) -> Result<()> {
        self.released.send_replace(true);
        let deleted = self
            .session
            .backend()
            .delete_owned(&self.key, self.revision)
            .await?;
        if deleted || cfg!(feature = "mutant-unlock-no-guard") {
            Ok(())
        } else {
            Err(queue::key_gone("lock", &self.key))
        }
    }

    /// Releases from `Drop`: best effort, on a spawned task.
    pub fn release_in_background(self: Arc<Self>) {
        self.released.send_replace(true);
        let session = self.session.clone();
        let runtime = session.runtime().clone();
        runtime.spawn(queue::delete_until_gone(
            session,
            self.key.clone(),
            self.revision,
        ));
    }
}

/// The error for `unlock` of an id this handle does not hold.
pub(crate) fn not_locked(id: &str) -> Error {
    Error::new(
        ErrorKind::NotLocked,
        format!("lock {id:?} is not held by this handle"),
    )
}
