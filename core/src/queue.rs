//! The queue both recipes share: keys under a directory ordered by create
//! revision; the lowest owns the lock (or is the primary). A waiter watches
//! only its predecessor — the newest key older than its own — so a handoff
//! wakes exactly one waiter, whatever the queue length (SPEC L2).

use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::session::Session;
use crate::store::{KeyValue, Store, Watch, WatchEvent, WatchNext};

/// Waits for our turn: returns `true` once no key under `dir` is older
/// than ours (`key`, created at `revision`) and ours is still there (SPEC
/// L9), `false` as soon as ours is found gone. Starts with `known`, the
/// predecessor the create read in its own transaction, if any: keys older
/// than ours can only disappear, never appear, after our write. After each
/// predecessor's delete, one read ([`Store::queue_position`]) finds the
/// next older key and checks ours.
pub(crate) async fn wait_for_turn(
    backend: &Backend,
    dir: &str,
    key: &str,
    revision: i64,
    mut known: Option<KeyValue>,
) -> Result<bool> {
    let check_own_key = !cfg!(feature = "mutant-no-l9-recheck");
    loop {
        if let Some(predecessor) = known.take() {
            wait_for_delete(backend, &predecessor.key, predecessor.create_revision).await?;
        }
        let position = backend.queue_position(dir, key, revision).await?;
        if check_own_key && !position.own_key_present {
            return Ok(false);
        }
        match position.older {
            None => return Ok(true),
            Some(older) => known = Some(older),
        }
    }
}

/// Returns once `key` (created at `create_revision`) is gone. The watch
/// starts from now and the key is read again after it: a delete between
/// the caller's read and the watch is seen by the read, a later one by the
/// watch — and etcd serves a watch from now at once, not from its 100 ms
/// catch-up loop as it does a watch from a past revision (the handoff
/// moment is exactly when that would happen).
pub(crate) async fn wait_for_delete(
    backend: &Backend,
    key: &str,
    create_revision: i64,
) -> Result<()> {
    // Re-read after the watch is open (see above); transient failures (an
    // etcd leader election, a broken connection) are retried: they say
    // nothing about the key.
    let opened = || async {
        let (watch, _) = backend.watch_now(key, false).await?;
        let present = still_there(backend, key, create_revision).await?;
        Ok::<_, crate::error::Error>((watch, present))
    };
    let mut watch = match retry_unavailable(key, opened).await? {
        (_, false) => return Ok(()),
        (watch, true) => watch,
    };
    loop {
        match watch.next().await? {
            WatchNext::Events(events) => {
                if deletes_incarnation(&events, create_revision) {
                    return Ok(());
                }
            }
            // A watch resumed after a reconnect can find its revision
            // compacted: open a fresh one from now and read again.
            WatchNext::Compacted { .. } => {
                return Box::pin(wait_for_delete(backend, key, create_revision)).await;
            }
        }
    }
}

/// Whether `events` delete the key created at `create_revision`. A name is
/// written again after a clean release (`key_names.rs`), and a watch from
/// "now" served by an etcd member that lags behind can still deliver the
/// delete of the name's previous key: a delete at or before our create
/// revision is not ours.
fn deletes_incarnation(events: &[WatchEvent], create_revision: i64) -> bool {
    events.iter().any(|event| match event {
        WatchEvent::Delete { revision, .. } => *revision > create_revision,
        WatchEvent::Put(_) => false,
    })
}

/// Runs `attempt` until it does not fail with `Unavailable`, backing off up
/// to a second between tries. The callers are bounded by their own
/// deadlines or lost signals.
async fn retry_unavailable<T, F, Fut>(what: &str, attempt: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match attempt().await {
            Err(error) if error.kind() == ErrorKind::Unavailable => {
                tracing::debug!(what, %error, "watch: retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Whether `key` still exists with create revision `revision` (the same
/// name written again later is another key).
async fn still_there(backend: &Backend, key: &str, revision: i64) -> Result<bool> {
    Ok(backend
        .get(key)
        .await?
        .is_some_and(|kv| kv.create_revision == revision))
}

/// Writes our own `key` (put-if-absent with the session's lease, plus
/// where it stands under `dir`; see [`Store::create`]) on a background task that
/// runs to completion, and hands back the result with a [`KeyCleanup`]
/// already armed. Whatever happens to the caller, the key is deleted by
/// name *after* the write has finished (SPEC H3, L8) — a delete sent while
/// the create is still in flight could reach etcd first, find nothing and
/// leave the key behind:
/// - the caller stopped waiting (its future was dropped), before or after
///   the answer reached it: the unread answer, with its cleanup, is dropped;
/// - the write failed with an unknown outcome: the task deletes the key.
///
/// The key is handed back by [`KeyCleanup::disarm`].
pub(crate) async fn create_owned(
    session: &Arc<Session>,
    key: Arc<str>,
    value: Arc<[u8]>,
    dir: &str,
) -> Result<(crate::store::Created, KeyCleanup)> {
    if !session.backend().is_etcd() {
        // The memory store's create completes within one poll: no write can
        // be in flight when the future is dropped, so a cleanup armed first
        // cannot overtake it (and nothing needs a task switch).
        let cleanup = KeyCleanup::new(session.clone(), key);
        let created = session
            .backend()
            .create(cleanup.key(), value, session.lease(), dir)
            .await;
        return match created {
            Ok(created) => Ok((created, cleanup)),
            Err(error) => {
                if error.kind() == ErrorKind::Lost {
                    cleanup.disarm();
                }
                Err(error)
            }
        };
    }
    // Boxed: the memory path above never needs this future.
    Box::pin(create_owned_etcd(session, key, value, dir)).await
}

/// [`create_owned`] on etcd: the write runs on a task of its own.
async fn create_owned_etcd(
    session: &Arc<Session>,
    key: Arc<str>,
    value: Arc<[u8]>,
    dir: &str,
) -> Result<(crate::store::Created, KeyCleanup)> {
    let (answer, outcome) = tokio::sync::oneshot::channel();
    // The task owns the key and a copy of the directory.
    let (owner, key_owned, dir_owned) = (session.clone(), key, dir.to_string());
    session.spawn_release(async move {
        let created = owner
            .backend()
            .create(&key_owned, value, owner.lease(), &dir_owned)
            .await;
        match created {
            Ok(created) => {
                if created.resent {
                    // The first send may still land after the key is
                    // released: only the lease's end settles it.
                    owner.retire();
                }
                let cleanup = KeyCleanup::new(owner, key_owned);
                // If nobody receives it, dropping it deletes the key.
                let _ = answer.send(Ok((created, cleanup)));
            }
            Err(error) => {
                // Not written for sure only when the lease is gone (and
                // its keys with it); otherwise the write may have landed.
                let maybe_written = error.kind() != ErrorKind::Lost;
                let _ = answer.send(Err(error));
                if maybe_written {
                    // An earlier send of it may still land after this
                    // delete (an answer refusing the last send says
                    // nothing of the first).
                    owner.retire();
                    delete_until_gone(owner, key_owned).await;
                }
            }
        }
    });
    match outcome.await {
        Ok(created) => created,
        // Formatted only here: no string is built on the success path.
        Err(_) => Err(Error::new(
            ErrorKind::Closed,
            format!("writing a key under {dir:?}: the runtime is shutting down"),
        )),
    }
}

/// Removes a key unless disarmed: any exit of an acquisition or candidacy
/// after its key was written ([`create_owned`]) and before the key is
/// handed on (error, timeout, cancel, dropped future) goes through here
/// (SPEC L8, H3). The key's name is ours alone, so it is deleted by name. A
/// dropped future cannot await, so the delete runs on a background task.
pub(crate) struct KeyCleanup {
    session: Arc<Session>,
    key: Arc<str>,
    armed: bool,
}

impl KeyCleanup {
    pub fn new(session: Arc<Session>, key: Arc<str>) -> Self {
        KeyCleanup {
            session,
            key,
            armed: true,
        }
    }

    /// The key this cleanup removes.
    pub fn key(&self) -> &Arc<str> {
        &self.key
    }

    /// The key is now owned by someone else (a guard, a leader), or known
    /// to be gone: hands it back.
    pub fn disarm(mut self) -> Arc<str> {
        self.armed = false;
        self.key.clone()
    }

    /// Deletes the key now and waits for it; on failure the background
    /// retry of `Drop` takes over.
    pub async fn delete_now(mut self) -> Result<()> {
        let deleted = self.session.backend().delete(&self.key).await;
        if deleted.is_ok() {
            self.armed = false;
        }
        deleted.map(|_| ())
    }
}

impl Drop for KeyCleanup {
    fn drop(&mut self) {
        if !self.armed || cfg!(feature = "mutant-waiter-keeps-key") {
            return;
        }
        let session = self.session.clone();
        let key = self.key.clone();
        let mut delete = Box::pin(delete_until_gone(session, key));
        // On the memory store the delete is done in its first poll: do that
        // here, so the key is gone when the waiter's call returns, not a
        // moment later (seen by the next try_lock as a waiter ahead of it).
        // What does not finish at once (an injected fault's retry) goes on
        // as a task.
        if !self.session.backend().is_etcd()
            && crate::first_poll::poll_once(self.session.runtime(), delete.as_mut()).is_ready()
        {
            return;
        }
        self.session.spawn_release(delete);
    }
}

/// Deletes `key` by name, retrying while the store is unreachable, until it
/// is gone or its lease is lost (then the store drops it anyway).
pub(crate) async fn delete_until_gone(session: Arc<Session>, key: Arc<str>) {
    let mut delay = Duration::from_millis(250);
    loop {
        match session.backend().delete(&key).await {
            Ok(_) => return,
            Err(error) if session.is_lost() || error.kind() == ErrorKind::Closed => {
                tracing::debug!(%key, %error, "key left to its lease");
                return;
            }
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::PermissionDenied
                        | ErrorKind::Unauthenticated
                        | ErrorKind::InvalidArgument
                ) =>
            {
                // Retrying cannot help (a role that may not delete): the
                // key goes with its lease when the handle closes.
                tracing::warn!(%key, %error, "removing a key failed for good; it goes with its lease");
                return;
            }
            Err(error) => {
                tracing::debug!(%key, %error, "removing a key failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// The error for a key that vanished under us.
pub(crate) fn key_gone(what: &str, key: &str) -> Error {
    Error::new(
        ErrorKind::Lost,
        format!("{what} key {key:?} was deleted (lease expired or removed by someone else)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delete_at(revision: i64) -> WatchEvent {
        WatchEvent::Delete {
            key: "/l/x/1_1".to_string(),
            revision,
        }
    }

    #[test]
    fn only_a_delete_after_the_create_ends_the_key() {
        // The previous key of the same name, deleted at 7; ours created at 9.
        assert!(!deletes_incarnation(&[delete_at(7)], 9));
        assert!(!deletes_incarnation(&[], 9));
        assert!(deletes_incarnation(&[delete_at(7), delete_at(12)], 9));
    }
}
