//! A session: one lease, kept alive by one background task, shared by every
//! key of a handle that uses the same TTL (SPEC L4). When the lease cannot be
//! renewed before its own deadline (last successful keepalive + TTL), the
//! session is *lost*: every guard and leader on it is told (SPEC L6), and the
//! handle grants a new lease for later acquisitions.
//!
//! The lease is revoked when the last user of the session goes away (the
//! handle closes and no guard or leader still holds it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::backend::Backend;
use crate::error::{ErrorKind, Result};
use crate::store::{LeaseId, Store};

/// Delay before retrying a keepalive that failed (etcd unreachable).
const RETRY_DELAY: Duration = Duration::from_millis(200);

pub(crate) struct Session {
    backend: Backend,
    lease: LeaseId,
    ttl: i64,
    /// `true` once the lease is gone.
    lost: watch::Sender<bool>,
    /// Dropping this stops the keepalive task.
    _stop: watch::Sender<()>,
    runtime: tokio::runtime::Handle,
    revoke_on_drop: AtomicBool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("lease", &format_args!("{:x}", self.lease))
            .field("ttl", &self.ttl)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl Session {
    /// Grants a lease of `ttl` seconds and starts keeping it alive.
    /// `suspended` is the handle's fault-injection switch: while it is set,
    /// keepalives are skipped (as if the process were paused or cut off).
    pub async fn start(
        backend: Backend,
        ttl: i64,
        suspended: Arc<AtomicBool>,
    ) -> Result<Arc<Session>> {
        let lease = backend.grant(ttl).await?;
        let (lost, _) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(());
        let session = Arc::new(Session {
            backend: backend.clone(),
            lease,
            ttl,
            lost,
            _stop: stop,
            runtime: tokio::runtime::Handle::current(),
            revoke_on_drop: AtomicBool::new(true),
        });
        tokio::spawn(keep_alive(
            backend,
            lease,
            ttl,
            Arc::downgrade(&session),
            stop_rx,
            suspended,
        ));
        Ok(session)
    }

    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The runtime the session was started on (for work spawned from `Drop`).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Marks the lease as gone (the store said so, or its deadline passed).
    pub fn mark_lost(&self) {
        self.lost
            .send_if_modified(|lost| !std::mem::replace(lost, true));
    }

    /// Resolves once the session is lost.
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        self.lost.subscribe()
    }

    /// Revokes the lease now (closing the handle): its keys go with it.
    pub async fn revoke(&self) -> Result<()> {
        self.revoke_on_drop.store(false, Ordering::Release);
        self.mark_lost();
        self.backend.revoke(self.lease).await
    }

    /// Forgets the lease without revoking it, as a crashed process would
    /// (fault injection): the store expires it after its TTL.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))] // fault hooks only
    pub fn abandon(&self) {
        self.revoke_on_drop.store(false, Ordering::Release);
    }
}

/// Resolves when `signal` says the session is lost.
pub(crate) async fn wait_lost(signal: &mut watch::Receiver<bool>) {
    // An Err means the session itself is gone: treat as lost.
    let _ = signal.wait_for(|lost| *lost).await;
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.revoke_on_drop.load(Ordering::Acquire) && !self.is_lost() {
            let backend = self.backend.clone();
            let lease = self.lease;
            // Best effort: if the runtime is shutting down the lease simply
            // expires after its TTL.
            self.runtime.spawn(async move {
                if let Err(error) = backend.revoke(lease).await {
                    tracing::debug!(lease, %error, "revoking an unused lease failed");
                }
            });
        }
    }
}

async fn keep_alive(
    backend: Backend,
    lease: LeaseId,
    ttl: i64,
    session: std::sync::Weak<Session>,
    mut stop: watch::Receiver<()>,
    suspended: Arc<AtomicBool>,
) {
    let ttl_duration = Duration::from_secs(u64::try_from(ttl).unwrap_or(1));
    let period = ttl_duration / 3;
    let mut deadline = Instant::now() + ttl_duration;
    let mut delay = period;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        let Some(owner) = session.upgrade() else {
            return;
        };
        if owner.is_lost() {
            return;
        }
        let sent = Instant::now();
        if sent >= deadline {
            tracing::warn!(lease, "lease deadline passed without a keepalive: lost");
            owner.mark_lost();
            return;
        }
        if suspended.load(Ordering::Acquire) {
            delay = period.min(deadline - sent);
            continue;
        }
        let answer = tokio::time::timeout(deadline - sent, backend.keep_alive(lease)).await;
        match answer {
            Ok(Ok(remaining)) if remaining > 0 => {
                // Count from when we asked: the server's deadline is later.
                deadline = sent + Duration::from_secs(u64::try_from(remaining).unwrap_or(0));
                delay = period;
            }
            Ok(Ok(_)) => {
                tracing::warn!(lease, "lease expired on the server: lost");
                owner.mark_lost();
                return;
            }
            Ok(Err(error)) if error.kind() == ErrorKind::Lost => {
                tracing::warn!(lease, %error, "lease lost");
                owner.mark_lost();
                return;
            }
            Ok(Err(error)) => {
                tracing::debug!(lease, %error, "keepalive failed; retrying until the lease deadline");
                delay = RETRY_DELAY.min(deadline.saturating_duration_since(Instant::now()));
            }
            Err(_) => {
                tracing::warn!(lease, "no keepalive answer before the lease deadline: lost");
                owner.mark_lost();
                return;
            }
        }
    }
}
