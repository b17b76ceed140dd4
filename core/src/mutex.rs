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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};
use crate::key_names::Writes;
use crate::lock_dirs::LockName;
use crate::lock_progress::{Progress, Stage};
use crate::queue;
use crate::session::{self, Session};
use crate::store::Deleted;

/// What an acquisition attempt ended with.
pub(crate) enum Attempt {
    Held(Arc<Held>),
    /// `try_lock` found someone else first.
    Busy,
    /// Our key or lease vanished while we waited; try again with a fresh key.
    Retry,
}

/// One attempt: create the key `key`, then
/// (unless `try_only`) wait for the predecessors and re-check.
pub(crate) async fn attempt(
    session: Arc<Session>,
    name: &Arc<LockName>,
    key: Arc<str>,
    value: Arc<[u8]>,
    try_only: bool,
    progress: &Progress,
) -> Result<Attempt> {
    // Written to completion in the background: if this future is dropped
    // or the write fails, the key is removed after the write finished.
    let dir = &name.dir;
    let (created, cleanup) = match queue::create_owned(&session, key, value, dir).await {
        Ok(created) => created,
        Err(error) if error.kind() == ErrorKind::Lost => {
            session.mark_lost();
            return Ok(Attempt::Retry);
        }
        Err(error) => return Err(error),
    };
    progress.set(Stage::Queued);
    let revision = created.revision;
    let create_resent = created.resent;
    let first_is_ours = created.first_revision == Some(revision);
    let predecessor = created.predecessor;
    if !first_is_ours {
        if try_only {
            cleanup.delete_now().await?;
            return Ok(Attempt::Busy);
        }
        progress.waiting_on(&session);
        // Boxed: the wait's future is large, and an acquisition that finds
        // the lock free never needs it (a smaller lock future is cheaper to
        // move and to poll).
        match Box::pin(wait_turn(
            &session,
            dir,
            cleanup.key(),
            revision,
            predecessor,
        ))
        .await?
        {
            Turn::Ours => {}
            // The armed cleanup removes our key.
            Turn::SessionLost => return Ok(Attempt::Retry),
            Turn::KeyGone => {
                cleanup.disarm(); // the key is already gone
                return Ok(Attempt::Retry);
            }
        }
    }
    // A lease the keepalive already gave up (its local deadline passed while
    // the create or the wait ran) expires on the server within the margin:
    // never report it held (SPEC L9). The armed cleanup removes the key.
    if session.is_lost() {
        return Ok(Attempt::Retry);
    }
    let key = cleanup.disarm();
    Ok(Attempt::Held(Held::new(
        session,
        name.clone(),
        key,
        revision,
        create_resent,
    )))
}

/// How a wait for our turn in the queue ended.
enum Turn {
    /// No older key is left and ours is still there.
    Ours,
    /// The session was lost while we waited.
    SessionLost,
    /// Our key vanished (lease expired or deleted by someone else).
    KeyGone,
}

/// Waits until no key under `dir` is older than ours (`key`, created at
/// `revision`) and ours is still there (SPEC L9).
async fn wait_turn(
    session: &Arc<Session>,
    dir: &str,
    key: &str,
    revision: i64,
    predecessor: Option<crate::store::KeyValue>,
) -> Result<Turn> {
    let backend = session.backend();
    let mut lost = session.lost_signal();
    let ours = tokio::select! {
        biased;
        _ = session::wait_lost(&mut lost) => return Ok(Turn::SessionLost),
        ours = queue::wait_for_turn(backend, dir, key, revision, predecessor) => ours?,
    };
    Ok(if ours { Turn::Ours } else { Turn::KeyGone })
}

/// Whether a held lock was released, and the channel that tells the
/// monitor of its lost signal (made by the monitor, if it starts).
#[derive(Default)]
struct Released {
    done: bool,
    signal: Option<watch::Sender<bool>>,
}

// Poisoning only follows a panic elsewhere; a flag and a channel stay
// consistent.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A lock this handle holds: its key, fencing token and session.
pub(crate) struct Held {
    /// The lock's id and directory (`{prefix}/locks/{esc(id)}/`, shared
    /// with the handle's table of held locks), where the release leaves
    /// the key's name for the next acquisition.
    pub name: Arc<LockName>,
    pub key: Arc<str>,
    pub revision: i64,
    /// The create was sent more than once (see `key_names.rs`).
    create_resent: bool,
    pub session: Arc<Session>,
    /// Lazily started watcher of "lost" (session lost or key deleted).
    monitor: OnceLock<watch::Receiver<bool>>,
    /// Set by the monitor when it saw the lock lost (not ended by close).
    lost_for_real: AtomicBool,
    /// Set when we release, so our own delete is not "lost"; the channel
    /// exists only once the monitor runs (most locks never start one).
    released: std::sync::Mutex<Released>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("id", &self.name.id)
            .field("key", &self.key)
            .field("revision", &self.revision)
            .finish()
    }
}

impl Held {
    fn new(
        session: Arc<Session>,
        name: Arc<LockName>,
        key: Arc<str>,
        revision: i64,
        create_resent: bool,
    ) -> Arc<Held> {
        Arc::new(Held {
            name,
            key,
            revision,
            create_resent,
            session,
            monitor: OnceLock::new(),
            lost_for_real: AtomicBool::new(false),
            released: std::sync::Mutex::new(Released::default()),
        })
    }

    /// Notes that we release the lock (before its key is deleted).
    fn mark_released(&self) {
        let mut released = lock(&self.released);
        released.done = true;
        if let Some(signal) = &released.signal {
            signal.send_replace(true);
        }
    }

    /// A receiver that turns `true` once we release.
    fn released_signal(&self) -> watch::Receiver<bool> {
        let mut released = lock(&self.released);
        let done = released.done;
        released
            .signal
            .get_or_insert_with(|| watch::channel(done).0)
            .subscribe()
    }

    /// `true` once the lock is lost (SPEC L6).
    pub fn lost_signal(self: &Arc<Self>) -> watch::Receiver<bool> {
        self.monitor
            .get_or_init(|| {
                let (tx, rx) = watch::channel(self.session.is_lost());
                let backend = self.session.backend().clone();
                let key = self.key.clone();
                let revision = self.revision;
                let mut session_lost = self.session.lost_signal();
                let session = self.session.clone();
                let held = Arc::downgrade(self);
                let mut released = self.released_signal();
                self.session.runtime().spawn(async move {
                    tokio::select! {
                        biased;
                        _ = released.wait_for(|r| *r) => return,
                        _ = session::wait_lost(&mut session_lost) => {}
                        deleted = queue::wait_for_delete(&backend, &key, revision) => {
                            if let Err(error) = deleted {
                                tracing::warn!(%key, %error, "watching a held lock failed");
                            }
                        }
                    }
                    if !*released.borrow() {
                        // Closing the handle revoked the lease: the lock
                        // ends (guarded work must stop) but nothing failed.
                        if session.was_revoked() {
                            tracing::debug!(%key, "lock released: its handle was closed");
                        } else {
                            tracing::warn!(%key, "lock lost");
                            if let Some(held) = held.upgrade() {
                                held.lost_for_real.store(true, Ordering::Release);
                            }
                        }
                        let _ = tx.send(true);
                    }
                });
                rx
            })
            .clone()
    }

    /// Whether the lock ended because its handle was closed (closing
    /// revoked its lease), and was not seen lost before (SPEC H1).
    pub fn ended_by_close(&self) -> bool {
        !self.is_released()
            && self.session.was_revoked()
            && !self.lost_for_real.load(Ordering::Acquire)
    }

    /// Whether the lock is known to be lost to something other than a
    /// close of its handle, without watching anything: its lease was lost,
    /// or its watched lost signal fired for a loss.
    pub fn known_lost_not_by_close(&self) -> bool {
        self.lost_for_real.load(Ordering::Acquire)
            || (!self.is_released() && self.session.is_lost() && !self.session.was_revoked())
    }

    /// Whether we released it (a loss after that is not the lock's).
    pub fn is_released(&self) -> bool {
        lock(&self.released).done
    }

    /// Whether the lock was already known to be lost (before a release).
    fn known_lost(&self) -> bool {
        self.session.is_lost() || self.monitor.get().is_some_and(|rx| *rx.borrow())
    }

    /// Releases the lock: deletes our key if it is still ours.
    /// `Err(Lost)` when it was already gone.
    ///
    /// The release runs to completion on a background task of the handle
    /// (SPEC H2): dropping this future does not abort it. If the delete
    /// fails (etcd unreachable for the whole request timeout), the error
    /// is returned and the background task keeps deleting the key until it
    /// is gone or its lease ends: a live key is never forgotten (SPEC L7).
    pub async fn release(self: &Arc<Self>) -> Result<()> {
        let was_lost = self.known_lost();
        self.mark_released();
        // If this future is dropped before the delete has answered, the
        // guard finishes the release in the background (SPEC H2).
        let pending = PendingRelease {
            held: self,
            armed: true,
        };
        // Our key's name is ours alone: a plain delete whose prev_kv says
        // whether it was still ours (one write, no transaction).
        let deleted = self
            .session
            .backend()
            .delete_unique(&self.key, self.revision)
            .await;
        // Only a delete that answered leaves nothing to clean up.
        let deleted_for_sure = deleted.is_ok();
        if let Ok(deleted) = &deleted {
            let writes = Writes {
                create_resent: self.create_resent,
                deleted_ours: deleted.ours,
                delete_resent: deleted.resent,
                lost: was_lost || self.session.is_lost(),
            };
            self.name
                .free_key
                .released(self.session.lease(), &self.key, writes);
        }
        let result = match deleted {
            Ok(_) if cfg!(feature = "mutant-unlock-no-guard") => Ok(()),
            // A retried delete that finds the key gone cannot tell our own
            // first attempt from an expiry: a lock already known to be lost
            // is reported lost.
            Ok(Deleted { ours: true, .. }) if was_lost || self.session.is_lost() => {
                Err(queue::key_gone("lock", &self.key))
            }
            Ok(Deleted { ours: true, .. }) => Ok(()),
            Ok(Deleted { ours: false, .. }) => Err(queue::key_gone("lock", &self.key)),
            Err(error) => Err(Error::new(
                error.kind(),
                format!(
                    "{}; the key is deleted in the background once etcd answers, \
                     or expires with its lease",
                    error.message()
                ),
            )),
        };
        // On a failure whose outcome is unknown the key may still be there:
        // the armed cleanup keeps deleting it in the background.
        if deleted_for_sure {
            pending.disarm();
        }
        result
    }

    /// Releases from `Drop`: on a background task of the handle, which
    /// retries until the key is gone or its lease ends.
    pub fn release_in_background(self: Arc<Self>) {
        self.mark_released();
        let session = self.session.clone();
        self.session
            .spawn_release(queue::delete_until_gone(session, self.key.clone()));
    }
}

/// The cleanup of a release whose delete has not answered (SPEC H2): like
/// [`queue::KeyCleanup`], borrowing the key until it must act, so a release
/// that completes copies nothing.
struct PendingRelease<'a> {
    held: &'a Held,
    armed: bool,
}

impl PendingRelease<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for PendingRelease<'_> {
    fn drop(&mut self) {
        if self.armed {
            // The same cleanup as an armed `KeyCleanup` (which see).
            drop(queue::KeyCleanup::new(
                self.held.session.clone(),
                self.held.key.clone(),
            ));
        }
    }
}

/// The error for `unlock` of an id this handle does not hold.
pub(crate) fn not_locked(id: &str) -> Error {
    Error::new(
        ErrorKind::NotLocked,
        format!("lock {id:?} is not held by this handle"),
    )
}
