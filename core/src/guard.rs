//! The lock guard: proof of holding a lock, with its fencing token and its
//! lost signal. Dropping it releases the lock (in the background, best
//! effort); `unlock().await` releases it and reports the outcome.

use std::sync::Arc;

use tokio::sync::watch;

use crate::client::Client;
use crate::error::Result;
use crate::mutex::Held;

/// A held lock. Created by [`Client::lock`] or [`Client::try_lock`].
///
/// **Drop.** Dropping the guard releases the lock on a background task of
/// the handle, which retries until the key is gone or its lease ends;
/// [`Client::close`] waits for it. Use [`LockGuard::unlock`] to see the
/// outcome. **Shutdown:** work spawned on a runtime that is shutting down
/// never runs, so a guard dropped after `#[tokio::main]` returned leaves its
/// lock held until the TTL — call `close().await` before `main` returns.
///
/// The lock belongs to the handle (SPEC L3): [`Client::unlock`] with the same
/// id releases it too, from any task; the guard then does nothing on drop.
#[must_use = "dropping the guard releases the lock; call `detach()` to keep it until `unlock(id)`"]
#[derive(Debug)]
pub struct LockGuard {
    client: Client,
    held: Option<Arc<Held>>,
}

impl LockGuard {
    pub(crate) fn new(client: Client, held: Arc<Held>) -> Self {
        LockGuard {
            client,
            held: Some(held),
        }
    }

    fn held(&self) -> Option<&Arc<Held>> {
        self.held.as_ref()
    }

    /// The lock id as given to `lock`.
    pub fn id(&self) -> &str {
        self.held().map_or("", |h| &*h.name.id)
    }

    /// The key this acquisition wrote (`{prefix}/locks/{esc(id)}/{lease:x}_{seq:x}`).
    pub fn key(&self) -> &str {
        self.held().map_or("", |h| &*h.key)
    }

    /// The lock id, shared: the same text as [`LockGuard::id`], without a
    /// copy, and usable after the guard is gone.
    pub fn shared_id(&self) -> Arc<str> {
        self.held()
            .map_or_else(|| Arc::from(""), |h| h.name.id.clone())
    }

    /// The key, shared: the same text as [`LockGuard::key`], without a
    /// copy, and usable after the guard is gone.
    pub fn shared_key(&self) -> Arc<str> {
        self.held().map_or_else(|| Arc::from(""), |h| h.key.clone())
    }

    /// The fencing token (SPEC L5): strictly greater than the token of every
    /// earlier acquisition of the same lock. Pass it to the resource you
    /// guard and have it reject writes with a smaller token.
    pub fn fencing_token(&self) -> u64 {
        self.held()
            .map_or(0, |h| u64::try_from(h.revision).unwrap_or(0))
    }

    /// Whether the handle the lock was taken through is closed: closing it
    /// released the lock (its lost signal fires too, so work guarded by it
    /// stops), and the guard's calls return `Closed` (SPEC H1).
    pub fn is_handle_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Whether the lock ended because its handle was closed and had not
    /// been seen lost before: its lost signal fired, but nothing was lost
    /// to anyone's fault (a binding reports "closed", not "lost"). A lock
    /// lost first stays lost after the close when its loss was known when
    /// the close began: its lease was lost, or its key's deletion was seen
    /// by its watched lost signal (a deletion not yet seen reads as closed).
    pub fn ended_by_close(&self) -> bool {
        self.held().is_some_and(|h| h.ended_by_close())
    }

    /// Whether the lock is known to be lost (SPEC L6) to something other
    /// than a close of its handle, without starting a watch: its lease was
    /// lost, or its [`LockGuard::lost_signal`], watched, fired for a loss.
    /// (A key deleted while nobody watched is found only by watching.)
    pub fn is_known_lost(&self) -> bool {
        self.held().is_some_and(|h| h.known_lost_not_by_close())
    }

    /// Whether the lock was released through its handle while this guard
    /// still refers to it: by [`Client::unlock`] with its id (the guard's
    /// own `unlock` then says `NotLocked`). A lost lock is not released
    /// until one of those runs; a closed handle is [`LockGuard::is_handle_closed`].
    pub fn is_released(&self) -> bool {
        self.held().is_none_or(|h| h.is_released())
    }

    /// The lease the lock's key is attached to.
    pub fn lease(&self) -> i64 {
        self.held().map_or(0, |h| h.session.lease())
    }

    /// A channel that turns `true` when the lock is lost (SPEC L6): the lease
    /// expired or the key was deleted by someone else. The holder must stop
    /// acting on the resource.
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        match self.held() {
            Some(held) => held.lost_signal(),
            None => watch::channel(true).1,
        }
    }

    /// Whether the lock is known to be lost.
    pub fn is_lost(&self) -> bool {
        *self.lost_signal().borrow()
    }

    /// Resolves when the lock is lost; never once it was released with
    /// [`Client::unlock`] instead.
    ///
    /// Cancel-safe.
    pub async fn lost(&self) {
        let mut signal = self.lost_signal();
        if signal.wait_for(|lost| *lost).await.is_err() {
            // Released (by `Client::unlock` with its id), not lost.
            std::future::pending::<()>().await;
        }
    }

    /// Releases the lock. `Err(NotLocked)` if it was already released with
    /// [`Client::unlock`]; `Err(Lost)` if it had been lost.
    ///
    /// Runs to completion (SPEC H2): the delete runs on a background task of the handle; dropping this future does not abort it. On an etcd that does not answer within the request timeout it returns the error while the key is still deleted in the background (or expires with its lease).
    pub async fn unlock(mut self) -> Result<()> {
        match self.held.take() {
            Some(held) => self.client.release(&held).await,
            None => Err(crate::mutex::not_locked("")),
        }
    }

    /// Runs `ops` in one etcd transaction **only if this acquisition still
    /// holds the lock**: the transaction compares the lock key's create
    /// revision (Go's `Mutex.IsOwner()`), so a holder that lost its lock
    /// (paused past its TTL, key deleted) cannot write, whatever its local
    /// state says. The strongest fencing there is for data kept in the same
    /// etcd.
    ///
    /// `Err(Lost)` when the lock is no longer held (nothing was written);
    /// `Err(InvalidArgument)` on the memory backend; `Err(Unavailable)` when
    /// etcd did not answer within the request timeout — the transaction is
    /// not retried, as it may have been applied. Cancel-safe in the sense
    /// that dropping the future sends nothing more; a transaction already
    /// sent may or may not apply.
    ///
    /// ```no_run
    /// # async fn demo(s: vinesync::Client) -> vinesync::Result<()> {
    /// use vinesync::etcd_client::TxnOp;
    /// let guard = s.lock("jobs", vinesync::LockOptions::new()).await?;
    /// guard
    ///     .txn(vec![TxnOp::put("/app/jobs/last", "42", None)])
    ///     .await?; // Err(Lost) if another process holds `jobs` by now
    /// guard.unlock().await
    /// # }
    /// ```
    pub async fn txn(&self, ops: Vec<etcd_client::TxnOp>) -> Result<etcd_client::TxnResponse> {
        let Some(held) = self.held() else {
            return Err(crate::mutex::not_locked(""));
        };
        let backend = held.session.backend();
        let Some(etcd) = backend.as_etcd() else {
            return Err(crate::Error::new(
                crate::ErrorKind::InvalidArgument,
                "guarded transactions need the etcd backend",
            ));
        };
        match etcd.txn_if_owner(&held.key, held.revision, ops).await? {
            Some(response) => Ok(response),
            None => Err(crate::queue::key_gone("lock", &held.key)),
        }
    }

    /// Keeps the lock held by the handle after the guard is gone, vine style:
    /// it is released by [`Client::unlock`] with its id, or when the handle
    /// closes.
    pub fn detach(mut self) {
        self.held = None;
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            if self.client.forget_held(&held) {
                held.release_in_background();
            }
        }
    }
}
