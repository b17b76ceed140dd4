//! The queue both recipes share: keys under a directory ordered by create
//! revision; the lowest owns the lock (or is the primary). A waiter watches
//! only its predecessor — the newest key older than its own — so a handoff
//! wakes exactly one waiter, whatever the queue length (SPEC L2).

use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::session::Session;
use crate::store::{RangeOptions, Store, Watch, WatchEvent, WatchNext};

/// Returns once no key under `dir` is older than `revision`.
pub(crate) async fn wait_for_predecessors(
    backend: &Backend,
    dir: &str,
    revision: i64,
) -> Result<()> {
    loop {
        let older = backend
            .range(
                dir,
                RangeOptions {
                    max_create_revision: Some(revision - 1),
                    descending: true,
                    limit: Some(1),
                },
            )
            .await?;
        let Some(predecessor) = older.kvs.into_iter().next() else {
            return Ok(());
        };
        wait_for_delete(backend, &predecessor.key, older.revision + 1).await?;
    }
}

/// Returns once `key` is deleted at or after `from_revision`, or when the
/// watch was compacted (the caller re-reads and finds out).
pub(crate) async fn wait_for_delete(
    backend: &Backend,
    key: &str,
    from_revision: i64,
) -> Result<()> {
    let mut watch = backend.watch(key, false, from_revision).await?;
    loop {
        match watch.next().await? {
            WatchNext::Events(events) => {
                if events
                    .iter()
                    .any(|e| matches!(e, WatchEvent::Delete { .. }))
                {
                    return Ok(());
                }
            }
            WatchNext::Compacted { .. } => return Ok(()),
        }
    }
}

/// Returns once our own `key` (created at `revision` under `dir`) is gone.
/// Unlike [`wait_for_delete`], a compacted watch is not taken for a delete:
/// the key is re-read and watched again from the current revision.
pub(crate) async fn wait_until_gone(
    backend: &Backend,
    dir: &str,
    key: &str,
    revision: i64,
) -> Result<()> {
    let mut from = revision + 1;
    loop {
        wait_for_delete(backend, key, from).await?;
        // Read the revision first: a delete after our re-check is newer.
        let now = backend
            .range(
                dir,
                RangeOptions {
                    limit: Some(1),
                    ..RangeOptions::default()
                },
            )
            .await?
            .revision;
        if !still_ours(backend, key, revision).await? {
            return Ok(());
        }
        from = now + 1;
    }
}

/// Checks after the wait that our own key still exists with our revision
/// (SPEC L9): on etcd 3.4 a waiter whose lease expired while it waited
/// would otherwise believe it holds the lock.
pub(crate) async fn still_ours(backend: &Backend, key: &str, revision: i64) -> Result<bool> {
    Ok(backend
        .get(key)
        .await?
        .is_some_and(|kv| kv.create_revision == revision))
}

/// Removes a key unless disarmed: any exit of an acquisition or candidacy
/// without the key being handed on (error, timeout, cancel, dropped future,
/// a write whose answer never came) goes through here (SPEC L8, H3). It is
/// armed *before* the key is written: the key's name is ours alone, so it
/// can be deleted by name even when we never learnt whether it was written.
/// A dropped future cannot await, so the delete runs on a background task.
pub(crate) struct KeyCleanup {
    session: Arc<Session>,
    key: String,
    armed: bool,
}

impl KeyCleanup {
    pub fn new(session: Arc<Session>, key: String) -> Self {
        KeyCleanup {
            session,
            key,
            armed: true,
        }
    }

    /// The key is now owned by someone else (a guard, a leader), or known
    /// to be gone.
    pub fn disarm(mut self) {
        self.armed = false;
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
        let key = std::mem::take(&mut self.key);
        self.session.spawn_release(delete_until_gone(session, key));
    }
}

/// Deletes `key` by name, retrying while the store is unreachable, until it
/// is gone or its lease is lost (then the store drops it anyway).
pub(crate) async fn delete_until_gone(session: Arc<Session>, key: String) {
    const RETRY: Duration = Duration::from_millis(250);
    loop {
        match session.backend().delete(&key).await {
            Ok(_) => return,
            Err(error) if session.is_lost() || error.kind() == ErrorKind::Closed => {
                tracing::debug!(%key, %error, "key left to its lease");
                return;
            }
            Err(error) => {
                tracing::debug!(%key, %error, "removing a key failed; retrying");
                tokio::time::sleep(RETRY).await;
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
