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
use tokio_util::task::TaskTracker;

use crate::backend::Backend;
use crate::clock::BootInstant;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{LeaseId, Store};

/// A handle's live sessions, by TTL in seconds.
pub(crate) type Sessions = std::sync::Mutex<crate::fasthash::FastMap<i64, Arc<Session>>>;

/// Delay before retrying a keepalive that failed (etcd unreachable).
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// How often a wait for a lease deadline looks at the suspend-aware clock
/// (tokio's timers stop while the host is suspended).
const DEADLINE_TICK: Duration = Duration::from_millis(250);

/// When the holder must consider its lease gone: before the server can
/// expire it, with a margin. The server counts the TTL from when it
/// received the request, which is after `sent`; we count from `sent` and
/// stop early by the larger of the round trip and a tenth of the TTL, so
/// the lost signal fires before anyone else can be granted the lock
/// (SPEC L6).
fn local_deadline(sent: BootInstant, answered: BootInstant, ttl_seconds: i64) -> BootInstant {
    let ttl = Duration::from_secs(u64::try_from(ttl_seconds).unwrap_or(0));
    let round_trip = answered.saturating_duration_since(sent);
    let margin = round_trip.max(ttl / 10).min(ttl / 2);
    sent + ttl - margin
}

/// Grants whose answer comes after the lease's local deadline are retried
/// this many times in all.
const LATE_GRANT_ATTEMPTS: u32 = 3;

/// A fresh lease id: random, positive and non-zero (etcd's own are too).
fn new_lease_id() -> LeaseId {
    let (high, _) = uuid::Uuid::new_v4().as_u64_pair();
    LeaseId::try_from(high >> 1).unwrap_or(1).max(1)
}

/// Grants a lease with an id of our choosing on a background task that runs
/// to completion, and hands back the lease with a [`GrantCleanup`] already
/// armed. Whatever happens to the caller, a lease that may exist is revoked
/// by id *after* the grant finished (SPEC H3): a revoke racing an in-flight
/// grant could land first and miss it. An unread answer is dropped with its
/// cleanup; a failed grant (unknown outcome) is revoked by the task.
async fn grant_owned(
    backend: &Backend,
    ttl: i64,
    tasks: &TaskTracker,
) -> Result<(LeaseId, i64, GrantCleanup)> {
    let id = new_lease_id();
    if !backend.is_etcd() {
        // The memory store grants within one poll (see `create_owned`).
        let cleanup = GrantCleanup {
            backend: Some(backend.clone()),
            id,
            ttl,
            tasks: tasks.clone(),
            runtime: tokio::runtime::Handle::try_current().ok(),
        };
        let (lease, granted) = backend.grant(ttl, id).await?;
        return Ok((lease, granted, cleanup));
    }
    let (answer, outcome) = tokio::sync::oneshot::channel();
    let (store, owner_tasks) = (backend.clone(), tasks.clone());
    tasks.spawn(async move {
        match store.grant(ttl, id).await {
            Ok((lease, granted)) => {
                let cleanup = GrantCleanup {
                    backend: Some(store),
                    id: lease,
                    ttl: granted,
                    tasks: owner_tasks,
                    runtime: tokio::runtime::Handle::try_current().ok(),
                };
                let _ = answer.send(Ok((lease, granted, cleanup)));
            }
            Err(error) => {
                let _ = answer.send(Err(error));
                revoke_maybe_granted(store, id, ttl).await;
            }
        }
    });
    outcome.await.unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Closed,
            "granting a lease: the runtime is shutting down",
        ))
    })
}

/// Revokes a lease whose grant did not complete, unless disarmed.
struct GrantCleanup {
    backend: Option<Backend>,
    id: LeaseId,
    ttl: i64,
    tasks: TaskTracker,
    /// The runtime it was made on: it may be dropped where none is current
    /// (an unread answer dropped by a caller outside the runtime).
    runtime: Option<tokio::runtime::Handle>,
}

impl GrantCleanup {
    fn disarm(mut self) {
        self.backend = None;
    }
}

impl Drop for GrantCleanup {
    fn drop(&mut self) {
        let runtime = self
            .runtime
            .take()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        if let (Some(backend), Some(runtime)) = (self.backend.take(), runtime) {
            self.tasks
                .spawn_on(revoke_maybe_granted(backend, self.id, self.ttl), &runtime);
        }
    }
}

/// Revokes lease `id` whose grant had an unknown outcome (SPEC H3), retrying
/// until etcd answers; after its TTL it has expired anyway.
async fn revoke_maybe_granted(backend: Backend, id: LeaseId, ttl: i64) {
    let give_up = BootInstant::now() + Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
    while BootInstant::now() < give_up {
        match backend.revoke(id).await {
            Ok(()) => return,
            Err(error) => {
                tracing::debug!(lease = id, %error, "revoking a lease of unknown outcome failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}

/// Resolves once the suspend-aware clock reaches `deadline`.
async fn until(deadline: BootInstant) {
    loop {
        let left = deadline.saturating_duration_since(BootInstant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(DEADLINE_TICK)).await;
    }
}

/// How the lease's renewals are going, for the message of a `LockTimeout`
/// that passes while queued: a waiter whose etcd stopped answering must
/// say so, not look merely busy.
#[derive(Debug, Default)]
struct Renewals {
    /// When the first keepalive still without a successful answer was sent.
    unanswered_since: Option<BootInstant>,
    /// Why the last keepalive since then failed.
    last_error: Option<String>,
}

/// Keepalives of a session that the store has stopped answering.
#[derive(Debug)]
pub(crate) struct RenewalTrouble {
    /// Since the first keepalive still without a successful answer.
    pub unanswered: Duration,
    /// Why the last one failed, if one did.
    pub last_error: Option<String>,
}

/// A keepalive outstanding this long is named even before it fails.
const UNANSWERED_NOTICE: Duration = Duration::from_millis(500);

pub(crate) struct Session {
    backend: Backend,
    lease: LeaseId,
    ttl: i64,
    /// `true` once the lease is gone.
    lost: watch::Sender<bool>,
    /// `lost`'s value, set before it is sent: read on every lock and
    /// unlock, for the price of a load (the channel's value is behind a
    /// lock).
    lost_now: AtomicBool,
    /// Dropping this stops the keepalive task.
    _stop: watch::Sender<()>,
    runtime: tokio::runtime::Handle,
    revoke_on_drop: AtomicBool,
    /// Revoked on purpose (the handle was closed), not lost.
    revoked: AtomicBool,
    /// Takes no new keys ([`Session::retire`]).
    retired: AtomicBool,
    /// The handle's map of live sessions, which this one leaves when it is
    /// retired ([`Session::leave_when_retired`]).
    listed_in: std::sync::Mutex<std::sync::Weak<Sessions>>,
    tasks: TaskTracker,
    /// The handle's count of lost leases ([`crate::Client::lease_lost`]).
    losses: watch::Sender<u64>,
    renewals: std::sync::Mutex<Renewals>,
    /// When its lease was asked for (the handle ends unused sessions
    /// oldest first).
    started_at: BootInstant,
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
    /// `tasks` tracks the handle's background releases (`close` waits).
    pub async fn start(
        backend: Backend,
        ttl: i64,
        suspended: Arc<AtomicBool>,
        tasks: TaskTracker,
        losses: watch::Sender<u64>,
    ) -> Result<Arc<Session>> {
        let mut attempt = 1;
        let (sent, answered, lease, granted, cleanup) = loop {
            let sent = BootInstant::now();
            let (lease, granted, cleanup) = grant_owned(&backend, ttl, &tasks).await?;
            let answered = BootInstant::now();
            if answered < local_deadline(sent, answered, granted) {
                break (sent, answered, lease, granted, cleanup);
            }
            // The answer came after the lease's local deadline (etcd was
            // electing a leader, say): the session would be lost at birth.
            // The armed cleanup revokes that lease; ask again.
            drop(cleanup);
            if attempt == LATE_GRANT_ATTEMPTS {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "lease grant: {attempt} answers came too late for a {ttl}s TTL \
                         (the last after {:?})",
                        answered.saturating_duration_since(sent)
                    ),
                ));
            }
            attempt += 1;
        };
        if granted > ttl {
            // etcd raised the TTL to its minimum lease TTL: failover would
            // take longer than the caller asked for, so say so (SPEC H7).
            // Revoked by the armed cleanup, in the background.
            drop(cleanup);
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "a lease TTL of {ttl}s is below this etcd's minimum lease TTL of {granted}s \
                     (etcd grants at least 1.5 election timeouts): ask for {granted}s or more"
                ),
            ));
        }
        let (lost, _) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(());
        let session = Arc::new(Session {
            backend: backend.clone(),
            lease,
            ttl,
            lost,
            lost_now: AtomicBool::new(false),
            _stop: stop,
            runtime: tokio::runtime::Handle::current(),
            revoke_on_drop: AtomicBool::new(true),
            revoked: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            listed_in: std::sync::Mutex::default(),
            tasks,
            losses,
            renewals: std::sync::Mutex::default(),
            started_at: sent,
        });
        cleanup.disarm();
        let deadline = local_deadline(sent, answered, granted);
        tokio::spawn(keep_alive(
            backend,
            lease,
            ttl,
            deadline,
            Arc::downgrade(&session),
            stop_rx,
            suspended,
        ));
        Ok(session)
    }

    /// Runs `task` on the session's runtime as one of the handle's
    /// background releases, which [`crate::Client::close`] waits for.
    pub fn spawn_release<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn_on(task, &self.runtime);
    }

    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    pub fn started_at(&self) -> BootInstant {
        self.started_at
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The runtime the session was started on (for work spawned from `Drop`).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    pub fn is_lost(&self) -> bool {
        self.lost_now.load(Ordering::Acquire)
    }

    /// Takes the session out of use for new keys: a write of one of its
    /// keys may still land late (it was sent more than once, or failed
    /// with an unknown outcome), after the key was released, and leave a
    /// key that nobody holds. Only the end of the lease settles that: the
    /// handle starts another session, and this one's lease is revoked
    /// (deleting such a key, and refusing any later write with it) once its
    /// last user is gone.
    pub fn retire(&self) {
        if self.retired.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(
            lease = self.lease,
            "a key write may land late: session retired"
        );
        let listed_in =
            std::mem::take(&mut *self.listed_in.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(sessions) = listed_in.upgrade() {
            let left = {
                let mut sessions = sessions.lock().unwrap_or_else(|p| p.into_inner());
                let listed = sessions
                    .get(&self.ttl)
                    .is_some_and(|s| std::ptr::eq(Arc::as_ptr(s), self));
                listed.then(|| sessions.remove(&self.ttl))
            };
            // After the map's lock (the caller holds another reference).
            drop(left);
        }
    }

    /// Where [`Session::retire`] takes the session out of (the handle's
    /// map of live sessions, by TTL).
    pub fn leave_when_retired(&self, sessions: &Arc<Sessions>) {
        *self.listed_in.lock().unwrap_or_else(|p| p.into_inner()) = Arc::downgrade(sessions);
    }

    /// Whether [`Session::retire`] was called.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Marks the lease as gone (the store said so, or its deadline passed).
    pub fn mark_lost(&self) {
        self.lost_now.store(true, Ordering::Release);
        if self
            .lost
            .send_if_modified(|lost| !std::mem::replace(lost, true))
        {
            self.backend.forget_keepalive(self.lease);
            self.losses.send_modify(|n| *n += 1);
        }
    }

    /// Whether the lease was revoked on purpose ([`Session::revoke`]: the
    /// handle was closed) while it was not lost, which ends its locks
    /// without losing them to anyone's fault.
    pub fn was_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Resolves once the session is lost.
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        self.lost.subscribe()
    }

    /// Revokes the lease now (closing the handle): its keys go with it.
    pub async fn revoke(&self) -> Result<()> {
        self.revoke_on_drop.store(false, Ordering::Release);
        // Ended on purpose: not counted as a loss (unless it was lost
        // before).
        if !self.is_lost() {
            self.revoked.store(true, Ordering::Release);
        }
        self.lost_now.store(true, Ordering::Release);
        self.lost.send_replace(true);
        self.backend.revoke(self.lease).await
    }

    fn renewals(&self) -> std::sync::MutexGuard<'_, Renewals> {
        // Poisoning only follows a panic elsewhere; two fields stay valid.
        self.renewals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn renewal_sent(&self, at: BootInstant) {
        self.renewals().unanswered_since.get_or_insert(at);
    }

    fn renewal_answered(&self) {
        *self.renewals() = Renewals::default();
    }

    fn renewal_failed(&self, error: &Error) {
        self.renewals().last_error = Some(error.message().to_string());
    }

    /// How long the store has not answered the lease's keepalives (and why
    /// the last one failed), once that is a failure or at least
    /// [`UNANSWERED_NOTICE`] long; `None` while they are answered.
    pub fn renewal_trouble(&self) -> Option<RenewalTrouble> {
        let renewals = self.renewals();
        let since = renewals.unanswered_since?;
        let unanswered = BootInstant::now().saturating_duration_since(since);
        (renewals.last_error.is_some() || unanswered >= UNANSWERED_NOTICE).then(|| RenewalTrouble {
            unanswered,
            last_error: renewals.last_error.clone(),
        })
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
        // Also when it was lost: the holder gave the lease up, but it may
        // still live on the server (the local deadline comes first, or only
        // the keepalives failed to get through). Nothing uses it any more,
        // so revoking it cannot cut anyone short. Tracked, so `close` waits;
        // if the runtime is shutting down the lease expires after its TTL.
        if self.revoke_on_drop.load(Ordering::Acquire) {
            let backend = self.backend.clone();
            let lease = self.lease;
            self.tasks.spawn_on(
                async move {
                    if let Err(error) = backend.revoke(lease).await {
                        tracing::debug!(lease, %error, "revoking an unused lease failed");
                    }
                },
                &self.runtime,
            );
        }
    }
}

async fn keep_alive(
    backend: Backend,
    lease: LeaseId,
    ttl: i64,
    deadline: BootInstant,
    session: std::sync::Weak<Session>,
    stop: watch::Receiver<()>,
    suspended: Arc<AtomicBool>,
) {
    // However the renewals end (lost, revoked, the session dropped, or
    // this task dropped with its runtime), the lease's keepalive stream is
    // closed then too: a renewal that began just as a revoke cleared it
    // could have opened and kept a new one.
    let _closes_the_stream = ForgetKeepaliveOnDrop {
        backend: backend.clone(),
        lease,
    };
    renew_until_ended(&backend, lease, ttl, deadline, session, stop, suspended).await;
}

/// Closes a lease's keepalive stream when dropped.
struct ForgetKeepaliveOnDrop {
    backend: Backend,
    lease: LeaseId,
}

impl Drop for ForgetKeepaliveOnDrop {
    fn drop(&mut self) {
        self.backend.forget_keepalive(self.lease);
    }
}

/// Renews the lease every TTL/3 until it is lost, revoked or its session
/// is gone.
async fn renew_until_ended(
    backend: &Backend,
    lease: LeaseId,
    ttl: i64,
    mut deadline: BootInstant,
    session: std::sync::Weak<Session>,
    mut stop: watch::Receiver<()>,
    suspended: Arc<AtomicBool>,
) {
    let period = Duration::from_secs(u64::try_from(ttl).unwrap_or(1)) / 3;
    let mut next = BootInstant::now() + period;
    loop {
        tokio::select! {
            _ = until(next.min(deadline)) => {}
            _ = stop.changed() => return,
        }
        let Some(owner) = session.upgrade() else {
            return;
        };
        if owner.is_lost() {
            return;
        }
        let sent = BootInstant::now();
        if sent >= deadline {
            tracing::warn!(lease, "lease deadline passed without a keepalive: lost");
            owner.mark_lost();
            return;
        }
        if suspended.load(Ordering::Acquire) {
            next = sent + period;
            continue;
        }
        owner.renewal_sent(sent);
        // Do not keep the session alive while waiting for the answer.
        drop(owner);
        // One attempt may take at most half the time left, so a member
        // that stopped answering (no reset, packets dropped) leaves time
        // for another attempt on a fresh stream before the deadline.
        let attempt_limit = sent + deadline.saturating_duration_since(sent) / 2;
        let answer = tokio::select! {
            answer = backend.keep_alive(lease) => answer,
            _ = until(attempt_limit) => Err(Error::new(
                ErrorKind::Unavailable,
                "keepalive: no answer within half the time left",
            )),
            _ = stop.changed() => return,
        };
        let Some(owner) = session.upgrade() else {
            return;
        };
        // Revoked by `close` while the keepalive was out: not a loss.
        if owner.was_revoked() {
            return;
        }
        match answer {
            Ok(remaining) if remaining > 0 => {
                owner.renewal_answered();
                deadline = local_deadline(sent, BootInstant::now(), remaining);
                next = sent + period;
            }
            Ok(_) => {
                tracing::warn!(lease, "lease expired on the server: lost");
                owner.mark_lost();
                return;
            }
            Err(error) if error.kind() == ErrorKind::Lost => {
                tracing::warn!(lease, %error, "lease lost");
                owner.mark_lost();
                return;
            }
            Err(error) => {
                tracing::debug!(lease, %error, "keepalive failed; retrying until the lease deadline");
                owner.renewal_failed(&error);
                next = BootInstant::now() + RETRY_DELAY;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_comes_before_the_server_expiry_by_a_margin() {
        let sent = BootInstant::now();
        // Fast answer: a tenth of the TTL.
        let d = local_deadline(sent, sent + Duration::from_millis(1), 10);
        assert_eq!(d.saturating_duration_since(sent), Duration::from_secs(9));
        // Slow answer: the round trip.
        let d = local_deadline(sent, sent + Duration::from_secs(2), 10);
        assert_eq!(d.saturating_duration_since(sent), Duration::from_secs(8));
    }

    #[test]
    #[allow(clippy::unwrap_used, clippy::expect_used)]
    fn an_armed_grant_cleanup_revokes_even_when_dropped_outside_the_runtime() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = crate::memory::MemoryStore::new();
        let backend = Backend::memory(store.clone());
        let tasks = TaskTracker::new();
        let (lease, _, cleanup) = runtime.block_on(grant_owned(&backend, 60, &tasks)).unwrap();
        assert_eq!(store.lease_ids(), [lease]);
        // Dropped on a thread that has no runtime (as an unread answer can
        // be, by a C or Python caller): it must still revoke.
        std::thread::spawn(move || drop(cleanup)).join().unwrap();
        let revoked = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            store.lease_ids().is_empty()
        });
        assert!(
            revoked,
            "the lease of an armed cleanup was left: {:?}",
            store.lease_ids()
        );
    }
}
