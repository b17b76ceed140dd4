//! The handle users hold: vine's `Sync` interface (init, options, lock,
//! unlock, leader, list_members, watch_elect, string) plus the additions of
//! SPEC §1 (try_lock, guards with fencing tokens, lost signals).
//!
//! A `Client` is a cheap `Clone` over one shared state: its sessions (one
//! lease per TTL), the locks it holds, and the store.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::etcd::EtcdStore;
use crate::fasthash::FastMap;
use crate::feed::{self, ElectWatcher, Feed};
use crate::guard::LockGuard;
use crate::held_table::HeldTable;
use crate::keys::{self, HolderInfo, MemberValue};
use crate::layout::{check_vine_lock_id, check_vine_namespace};
use crate::leader::{Candidate, Leader};
use crate::lock_dirs::LockDirs;
use crate::lock_progress::{Progress, Stage};
use crate::member::Member;
use crate::memory::MemoryStore;
use crate::mutex::{self, Attempt, Held};
use crate::options::{
    check_text, ttl_seconds, LeaderOptions, LockOptions, MemberOptions, Options, WatchOptions,
};
use crate::queue;
use crate::session::{Session, Sessions};
#[cfg(feature = "test-util")]
use crate::store::Store;
use crate::vine_primary::VinePrimary;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How many times one `lock` call starts over because its lease or key
/// vanished while it waited, before it reports `Lost`.
const MAX_ATTEMPTS: usize = 16;

/// Sessions (one per lease TTL) a handle keeps alive while nothing uses
/// them, for the next lock or leader of that TTL; beyond this many, the
/// oldest unused ones are ended when a new one starts. Large enough that
/// a program cycling through its TTLs does not grant a lease per lock.
const IDLE_SESSIONS_KEPT: usize = 64;

/// Back-off of a `lock` that keeps trying while etcd is unavailable.
const OUTAGE_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(100);
const OUTAGE_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// A vinesync handle on the etcd or memory backend (vine's `Sync`).
///
/// Cheap to clone; clones share sessions and held locks. Safe to use from
/// many tasks and threads at once.
///
/// **Drop and shutdown.** When the last clone and the last guard or leader
/// made from it are gone, its leases are revoked on a background task (best
/// effort). Prefer [`Client::close`]: it waits for background releases,
/// revokes the leases, and must run before the runtime shuts down.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    backend: RwLock<Backend>,
    options: RwLock<Options>,
    /// Identifies this handle in the values it writes.
    handle_id: String,
    /// The value of this handle's lock keys (host, pid, handle id) as a
    /// JSON object without its closing brace.
    holder_value: Vec<u8>,
    /// The last complete holder value and its `since_ms`: acquisitions in
    /// the same millisecond share it (built and allocated once).
    last_holder_value: Mutex<(u64, Arc<[u8]>)>,
    /// Sessions by lease TTL in seconds. A plain mutex, never held across
    /// an await: an acquisition on a live session only looks it up.
    sessions: Arc<Sessions>,
    /// Held while a session is being started (its lease granted) and while
    /// the sessions are cleared, so a handle grants one lease per TTL and a
    /// grant cannot slip a session in after `close` collected them.
    granting: tokio::sync::Mutex<()>,
    /// Every session started, also those an `init` replaced while guards
    /// or leaders still use them: `close` revokes them all.
    started: Mutex<Vec<std::sync::Weak<Session>>>,
    /// Locks this handle holds (SPEC L3), by lock directory; never one
    /// replaced by another (see `held_table.rs`).
    held: HeldTable,
    /// Lock directories by id, under the current options.
    lock_dirs: LockDirs,
    /// Background releases and cleanups (SPEC H2, H3); `close` waits.
    tasks: TaskTracker,
    /// Cancelled when `close` starts: ends the handle's election feeds and
    /// tells its leaders that the handle is closed (SPEC H1).
    closing: CancellationToken,
    /// How many of the handle's leases were lost so far.
    losses: tokio::sync::watch::Sender<u64>,
    seq: AtomicU64,
    closed: AtomicBool,
    /// Fault injection: skip keepalives (see [`Faults`]).
    keepalive_suspended: Arc<AtomicBool>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.name())
            .field("handle", &self.inner.handle_id)
            .field("prefix", &self.options().prefix)
            .finish()
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Client {
    fn with_backend(backend: Backend, options: Options) -> Client {
        let handle_id = uuid::Uuid::new_v4().to_string();
        let mut holder_value = serde_json::to_vec(&HolderInfo {
            host: &hostname(),
            pid: std::process::id(),
            handle: &handle_id,
        })
        .unwrap_or_else(|_| b"{}".to_vec());
        holder_value.pop(); // `}`: `holder_value()` appends `since_ms`

        Client {
            inner: Arc::new(Inner {
                backend: RwLock::new(backend),
                options: RwLock::new(options),
                handle_id,
                holder_value,
                // No millisecond matches it: the first acquisition builds.
                last_holder_value: Mutex::new((u64::MAX, Arc::default())),
                sessions: Arc::default(),
                granting: tokio::sync::Mutex::new(()),
                started: Mutex::new(Vec::new()),
                held: HeldTable::default(),
                lock_dirs: LockDirs::default(),
                seq: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                keepalive_suspended: Arc::new(AtomicBool::new(false)),
                tasks: TaskTracker::new(),
                closing: CancellationToken::new(),
                losses: tokio::sync::watch::channel(0).0,
            }),
        }
    }

    /// A handle on the process-wide memory store ([`MemoryStore::global`]):
    /// every memory handle of the process made through this copy of the
    /// crate sees the same locks and elections (libvinesync and the Python
    /// module each build in a copy of their own, with its own store). In a
    /// child of `fork()` a new handle gets the child's own, empty store;
    /// handles made before the fork still point at the parent's copy, so do
    /// not use them there.
    /// `nodes` and the connection options are not used, but checked as on
    /// etcd, so the same options are valid on both backends.
    pub fn memory(options: Options) -> Result<Client> {
        Client::with_memory_store(MemoryStore::global(), options)
    }

    /// A handle on a given memory store (e.g. a private [`MemoryStore::new`]).
    pub fn with_memory_store(store: MemoryStore, options: Options) -> Result<Client> {
        options.validate()?;
        Ok(Client::with_backend(Backend::memory(store), options))
    }

    /// Connects to etcd at `options.nodes`.
    ///
    /// Cancel-safe: dropping the future drops the half-made connection.
    pub async fn etcd(options: Options) -> Result<Client> {
        options.validate()?;
        let store = EtcdStore::connect(&options).await?;
        Ok(Client::with_backend(Backend::etcd(store), options))
    }

    /// etcd when `VINESYNC_NODES` is set, memory otherwise; options from
    /// the environment ([`Options::from_env`]). What the examples use.
    ///
    /// Cancel-safe, like [`Client::etcd`].
    pub async fn from_env() -> Result<Client> {
        let options = Options::from_env()?;
        if std::env::var_os("VINESYNC_NODES").is_some_and(|v| !v.is_empty()) {
            Client::etcd(options).await
        } else {
            Client::memory(options)
        }
    }

    /// vine's `Init`: replaces the options. Locks and candidacies already
    /// held keep their keys; new operations use the new prefix. On etcd a
    /// change of nodes, timeouts, TLS or credentials reconnects.
    ///
    /// Cancel-safe: the options change only once the new connection is made.
    pub async fn init(&self, options: Options) -> Result<()> {
        self.check_open()?;
        options.validate()?;
        if self.backend().is_etcd() {
            let current = self.options();
            let same_connection = Options {
                prefix: current.prefix.clone(),
                layout: current.layout,
                prefix_explicit: current.prefix_explicit,
                ..options.clone()
            } == current;
            if !same_connection {
                let store = EtcdStore::connect(&options).await?;
                *write(&self.inner.backend) = Backend::etcd(store);
                // Old sessions stay with the guards and leaders using them.
                let _granting = self.inner.granting.lock().await;
                lock(&self.inner.sessions).clear();
            }
        }
        let mut current = write(&self.inner.options);
        *current = options;
        // While no lock or unlock can read the options.
        self.inner.lock_dirs.clear();
        drop(current);
        Ok(())
    }

    /// vine's `Options`: the current options.
    pub fn options(&self) -> Options {
        read(&self.inner.options).clone()
    }

    /// vine's `String`: `"etcd"` or `"memory"`.
    pub fn name(&self) -> &'static str {
        self.backend().name()
    }

    /// This handle's unique id (also written in its lock values).
    pub fn handle_id(&self) -> &str {
        &self.inner.handle_id
    }

    /// vine's `Lock`: blocks until lock `id` is held (SPEC L1–L9), the
    /// future is dropped (the waiter key is removed: L8) or `LockWait`
    /// passes (`LockTimeout`). The lock belongs to this handle: a second
    /// `lock` of the same id on the same handle waits like any other (L3).
    ///
    /// Cancel-safe (SPEC L8, H3): dropped at any await point, the waiter key is removed by name in the background, even if its write was in flight.
    pub async fn lock(&self, id: &str, options: LockOptions) -> Result<LockGuard> {
        let span = tracing::debug_span!("lock", id, wait = ?options.wait);
        tracing::Instrument::instrument(self.acquire(id, options, false), span).await
    }

    /// Takes lock `id` only if it is free right now; otherwise
    /// `WouldBlock`, leaving no key behind (SPEC L10).
    ///
    /// Cancel-safe, like [`Client::lock`].
    pub async fn try_lock(&self, id: &str, options: LockOptions) -> Result<LockGuard> {
        let span = tracing::debug_span!("try_lock", id);
        tracing::Instrument::instrument(self.acquire(id, options, true), span).await
    }

    async fn acquire(&self, id: &str, options: LockOptions, try_only: bool) -> Result<LockGuard> {
        self.check_open()?;
        check_text("lock id", id)?;
        options.validate()?;
        let ttl = ttl_seconds(options.ttl);
        let name = {
            let handle_options = read(&self.inner.options);
            check_vine_lock_id(handle_options.layout, &handle_options.prefix, id)?;
            // Shared by every attempt's `Held` and the held table.
            self.inner.lock_dirs.get(&handle_options, id)
        };
        // What a LockTimeout says besides "not acquired": the last failure
        // of the store (a lock nobody holds, refused by etcd, must not look
        // merely busy) and how far the attempt running at the deadline got.
        // An attempt whose key was written is queued behind a holder: then
        // the store answered, and an earlier failure is not blamed.
        let progress = Progress::default();
        let attempts = async {
            let mut attempts = 0;
            let mut outage_delay = OUTAGE_RETRY_FIRST;
            while attempts < MAX_ATTEMPTS {
                progress.set(Stage::Session);
                let attempt = async {
                    let session = self.session(ttl).await?;
                    // A name this session released cleanly, if any (see
                    // key_names.rs), else a new one.
                    let key = name.free_key.take(session.lease()).unwrap_or_else(|| {
                        Arc::from(keys::own_key(&name.dir, session.lease(), self.next_seq()))
                    });
                    let value = self.holder_value();
                    progress.set(Stage::Writing);
                    mutex::attempt(session, &name, key, value, try_only, &progress).await
                };
                match attempt.await {
                    Ok(Attempt::Held(held)) => return Ok(held),
                    Ok(Attempt::Busy) => {
                        return Err(Error::new(
                            ErrorKind::WouldBlock,
                            format!("lock {id:?} is held by someone else"),
                        ))
                    }
                    Ok(Attempt::Retry) => {
                        attempts += 1;
                        self.check_open()?;
                    }
                    // etcd unreachable (a restart, a leader election): a
                    // `lock` keeps trying until its `LockWait` deadline or
                    // until it is cancelled (SPEC §6); `try_lock` reports it.
                    Err(error) if error.kind() == ErrorKind::Unavailable && !try_only => {
                        if outage_delay == OUTAGE_RETRY_FIRST {
                            tracing::warn!(id, %error, "lock: etcd unavailable; retrying");
                        } else {
                            tracing::debug!(id, %error, "lock: etcd unavailable; retrying");
                        }
                        progress.failed(error.message());
                        self.check_open()?;
                        progress.set(Stage::Backoff);
                        Box::pin(tokio::time::sleep(outage_delay)).await;
                        outage_delay = (outage_delay * 2).min(OUTAGE_RETRY_MAX);
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(Error::new(
                ErrorKind::Lost,
                format!("lock {id:?}: the lease expired {MAX_ATTEMPTS} times while waiting"),
            ))
        };
        let held = match options.wait.filter(|_| !try_only) {
            // Try once: a held lock is a timeout of a zero wait.
            Some(wait) if wait.is_zero() => {
                return match Box::pin(self.acquire(id, options, true)).await {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        Err(Error::lock_timeout(id, wait))
                    }
                    other => other,
                }
            }
            // Boxed, as the timer would make every lock future larger.
            Some(wait) => Box::pin(tokio::time::timeout(wait, attempts))
                .await
                .map_err(|_| progress.timeout_error(id, wait, self.name()))??,
            None => attempts.await?,
        };
        self.inner.held.insert(held.clone());
        Ok(LockGuard::new(self.clone(), held))
    }

    /// vine's `Unlock`: releases the acquisition of `id` this handle holds
    /// (SPEC L7). `NotLocked` if it holds none; `Lost` if the lock had been
    /// lost meanwhile (nobody else's key is ever touched). An acquisition
    /// made before `init` changed the prefix, the layout or the etcd
    /// cluster is found too. Among several: one under the current prefix
    /// and layout first, then one taken through the current connection,
    /// then on a cluster with the current one's id, then the one taken last.
    ///
    /// Cancel-safe in the sense of SPEC H2: once called, the release runs to
    /// completion in the background even if this future is dropped. If etcd
    /// does not answer within the request timeout the error is returned and
    /// the key is still deleted in the background (or expires with its
    /// lease); it is never left behind a live lease.
    pub async fn unlock(&self, id: &str) -> Result<()> {
        self.check_open()?;
        check_text("lock id", id)?;
        let name = self.inner.lock_dirs.get(&read(&self.inner.options), id);
        // The current backend read in place (no clone of it per unlock).
        let held = self
            .inner
            .held
            .take_for_unlock(&read(&self.inner.backend), &name.dir, id);
        match held {
            Some(held) => held.release().await,
            None => Err(mutex::not_locked(id)),
        }
    }

    /// Releases a guard's acquisition if it is still this handle's.
    pub(crate) async fn release(&self, held: &Arc<Held>) -> Result<()> {
        // Closing released it already (SPEC H1: calls after close).
        self.check_open()?;
        if self.forget_held(held) {
            held.release().await
        } else {
            Err(mutex::not_locked(&held.name.id))
        }
    }

    /// Removes `held` from the held table; `false` if it was not there
    /// (already unlocked by id).
    pub(crate) fn forget_held(&self, held: &Arc<Held>) -> bool {
        self.inner.held.forget(held)
    }

    /// vine's `Leader`: joins election `name` in `LeaderNS` as `LeaderId`
    /// (SPEC E1). Returns once the candidate key is written; campaigning
    /// continues in the background (see [`Leader::status`],
    /// [`Leader::wait_elected`]).
    ///
    /// Cancel-safe (SPEC E1, H3): dropped before it returns, the candidate key is removed by name in the background.
    pub async fn leader(&self, name: &str, options: LeaderOptions) -> Result<Leader> {
        let span = tracing::debug_span!("leader", name, namespace = %options.namespace);
        tracing::Instrument::instrument(self.join(name, options), span).await
    }

    async fn join(&self, name: &str, options: LeaderOptions) -> Result<Leader> {
        self.check_open()?;
        check_text("leader name", name)?;
        options.validate()?;
        check_vine_namespace(self.options().layout, "LeaderNS", &options.namespace)?;
        let id = options
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let (dir, vine_primary) = {
            let handle_options = read(&self.inner.options);
            (
                keys::election_dir(&handle_options, &options.namespace),
                VinePrimary::of(&handle_options, &options.namespace, &id),
            )
        };
        let value: Arc<[u8]> = serde_json::to_vec(&MemberValue {
            leader: name.to_string(),
            id: id.clone(),
            namespace: options.namespace.clone(),
            role: String::new(),
        })
        .map_err(|e| Error::internal(format!("encoding the member value: {e}")))?
        .into();
        for _ in 0..MAX_ATTEMPTS {
            let session = self.session(ttl_seconds(options.ttl)).await?;
            let key = Arc::from(keys::own_key(&dir, session.lease(), self.next_seq()));
            // Written to completion in the background: a cancelled or failed
            // join must not leave a ghost candidate (SPEC E1, H3).
            match queue::create_owned(&session, key, value.clone(), &dir).await {
                Ok((created, cleanup)) => {
                    // The candidacy owns the key now.
                    let key = cleanup.disarm();
                    let first_is_ours = created.first_revision == Some(created.revision);
                    let candidate = Candidate::start(
                        session,
                        name.to_string(),
                        options.namespace.clone(),
                        id,
                        key,
                        created.revision,
                        dir,
                        first_is_ours,
                        vine_primary.clone(),
                        self.inner.closing.clone(),
                    );
                    return Ok(Leader::new(candidate));
                }
                Err(error) if error.kind() == ErrorKind::Lost => session.mark_lost(),
                Err(error) => return Err(error),
            }
        }
        Err(Error::new(
            ErrorKind::Lost,
            format!("leader {name:?}: the lease expired {MAX_ATTEMPTS} times while joining"),
        ))
    }

    /// vine's `ListMembers`: every live candidate of `MemberNS`, in campaign
    /// order, the first one `primary` (SPEC E7).
    ///
    /// Cancel-safe: a read.
    pub async fn list_members(&self, options: MemberOptions) -> Result<Vec<Member>> {
        self.check_open()?;
        check_text("MemberNS", &options.namespace)?;
        check_vine_namespace(self.options().layout, "MemberNS", &options.namespace)?;
        let dir = keys::election_dir(&read(&self.inner.options), &options.namespace);
        feed::list(&self.backend(), &dir, &options.namespace).await
    }

    /// vine's `WatchElect`: joins, leaves and primary changes of `WatchNS`
    /// from now on, filtered to `WatchId` when given (SPEC E8).
    ///
    /// Cancel-safe: dropping the future (or the watcher) stops the watch.
    pub async fn watch_elect(&self, options: WatchOptions) -> Result<ElectWatcher> {
        self.check_open()?;
        options.validate()?;
        check_vine_namespace(self.options().layout, "WatchNS", &options.namespace)?;
        let dir = keys::election_dir(&read(&self.inner.options), &options.namespace);
        let feed = Feed::start(
            self.backend(),
            dir,
            &options.namespace,
            false,
            self.inner.closing.clone(),
        )
        .await?;
        Ok(ElectWatcher::new(feed, options.id))
    }

    /// Closes the handle: waits for the releases already running in the
    /// background (bounded by the request timeout), revokes its leases
    /// (every lock it holds and every candidacy is released at once) and
    /// makes later calls fail with `Closed`. Idempotent.
    ///
    /// Runs to completion (SPEC H2): dropping the future does not stop it. Call it before a `#[tokio::main]` returns: work spawned on a runtime that is shutting down never runs, so a guard dropped after the runtime stops leaves its lock to the TTL.
    pub async fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.closing.cancel();
        let client = self.clone();
        let closing = tokio::spawn(async move { client.close_now().await });
        if let Err(error) = closing.await {
            tracing::warn!(%error, "closing the handle did not finish");
        }
    }

    async fn close_now(&self) {
        drop(self.inner.held.drain());
        self.inner.tasks.close();
        let limit = read(&self.inner.options).request_timeout;
        let deadline = crate::clock::deadline_after(limit);
        if tokio::time::timeout_at(deadline, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "background releases still running after {limit:?}; revoking the leases"
            );
        }
        // Strong references first: a session only the map holds would be
        // dropped (and its lease left to expire) by clearing the map.
        let _granting = self.inner.granting.lock().await;
        // A session started as `close` began may have ended unused ones
        // after the wait above: their revokes count too (same deadline).
        let _ = tokio::time::timeout_at(deadline, self.inner.tasks.wait()).await;
        let current: Vec<Arc<Session>> =
            lock(&self.inner.sessions).drain().map(|(_, s)| s).collect();
        let started: Vec<_> = std::mem::take(&mut *lock(&self.inner.started));
        let mut sessions = current;
        for session in started.iter().filter_map(std::sync::Weak::upgrade) {
            if !sessions.iter().any(|s| Arc::ptr_eq(s, &session)) {
                sessions.push(session);
            }
        }
        // All at once: with etcd stalled, each waits out the request
        // timeout, and one after the other that would be once per TTL used.
        let revokes = sessions.iter().map(|session| async move {
            if let Err(error) = session.revoke().await {
                tracing::warn!(%error, "revoking a lease while closing failed; it will expire");
            }
        });
        futures_util::future::join_all(revokes).await;
        // The member probes of every store this handle used (a store
        // replaced by `init` lives on in the sessions made before it).
        let backends = sessions
            .iter()
            .map(|s| s.backend().clone())
            .chain(std::iter::once(self.backend()));
        for backend in backends {
            if let Some(store) = backend.as_etcd() {
                store.stop_probes();
            }
        }
    }

    /// Resolves the next time one of this handle's leases is lost (it could
    /// not be kept alive before its TTL, or was revoked by someone else):
    /// every lock and candidacy on it is lost, and their own signals fire
    /// too. A handle-wide "session done" signal, like Go's
    /// `concurrency.Session.Done()`. Closing the handle is not a loss.
    /// Cancel-safe.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> vinesync::Result<()> {
    /// use vinesync::{Client, Options};
    /// let s = Client::memory(Options::new().prefix("/doc/lease-lost"))?;
    /// let watchdog = s.clone();
    /// let task = tokio::spawn(async move {
    ///     watchdog.lease_lost().await;
    ///     eprintln!("a lease of this handle was lost: stop acting on its locks");
    /// });
    /// # task.abort();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn lease_lost(&self) {
        let mut losses = self.inner.losses.subscribe();
        let seen = *losses.borrow_and_update();
        let _ = losses.wait_for(|n| *n > seen).await;
    }

    /// Whether [`Client::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Fault injection for tests (simulated crashes and pauses); only with
    /// the `test-util` feature, which nothing users install enables.
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub fn faults(&self) -> Faults<'_> {
        Faults { client: self }
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        read(&self.inner.backend).clone()
    }

    fn next_seq(&self) -> u64 {
        self.inner.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// This handle's lock value with the time the key is written
    /// (`since_ms`, Unix milliseconds: since when the acquisition queued;
    /// from the coarse wall clock, a few milliseconds behind at most).
    fn holder_value(&self) -> Arc<[u8]> {
        let since_ms = crate::clock::unix_millis_coarse();
        let mut last = lock(&self.inner.last_holder_value);
        if last.0 == since_ms {
            return last.1.clone();
        }
        // The stored value is the JSON object without its closing brace.
        let stored = &self.inner.holder_value;
        let mut value = Vec::with_capacity(stored.len() + 56);
        value.extend_from_slice(stored);
        value.extend_from_slice(b",\"since_ms\":");
        push_decimal(&mut value, since_ms);
        value.push(b'}');
        *last = (since_ms, Arc::from(value));
        last.1.clone()
    }

    /// The live session for `ttl` seconds, if there is one.
    fn live_session(&self, ttl: i64) -> Option<Arc<Session>> {
        lock(&self.inner.sessions)
            .get(&ttl)
            .filter(|session| !session.is_lost() && !session.is_retired())
            .cloned()
    }

    /// The live session for `ttl` seconds, granting a lease if needed.
    async fn session(&self, ttl: i64) -> Result<Arc<Session>> {
        // Fast path: no await, so one slow grant (below) cannot stall the
        // acquisitions that already have a live session.
        if let Some(session) = self.live_session(ttl) {
            self.check_open()?;
            return Ok(session);
        }
        // Boxed: granting a lease is rare, and its future is large.
        Box::pin(self.start_session(ttl)).await
    }

    /// Starts the session for `ttl` seconds (grants its lease), unless
    /// another call did meanwhile.
    async fn start_session(&self, ttl: i64) -> Result<Arc<Session>> {
        let _granting = self.inner.granting.lock().await;
        self.check_open()?;
        if let Some(session) = self.live_session(ttl) {
            return Ok(session);
        }
        let session = Session::start(
            self.backend(),
            ttl,
            self.inner.keepalive_suspended.clone(),
            self.inner.tasks.clone(),
            self.inner.losses.clone(),
        )
        .await?;
        // A session retired later leaves the map then (not only when the
        // next session of its TTL replaces it), so its lease is revoked
        // once its last user is gone.
        session.leave_when_retired(&self.inner.sessions);
        let mut sessions = lock(&self.inner.sessions);
        sessions.insert(ttl, session.clone());
        end_unused_sessions(&mut sessions);
        drop(sessions);
        let mut started = lock(&self.inner.started);
        started.retain(|s| s.strong_count() > 0);
        started.push(Arc::downgrade(&session));
        Ok(session)
    }
}

/// A TTL used once keeps no lease alive for ever: past
/// [`IDLE_SESSIONS_KEPT`] sessions nothing uses (only this map holds them;
/// lookups clone under the same lock), the oldest are dropped, which
/// revokes their leases.
fn end_unused_sessions(sessions: &mut FastMap<i64, Arc<Session>>) {
    let mut unused: Vec<_> = sessions
        .iter()
        .filter(|(_, session)| Arc::strong_count(session) == 1)
        .map(|(ttl, session)| (session.started_at(), *ttl))
        .collect();
    if unused.len() > IDLE_SESSIONS_KEPT {
        unused.sort_unstable();
        for (_, ttl) in &unused[..unused.len() - IDLE_SESSIONS_KEPT] {
            sessions.remove(ttl);
        }
    }
}

/// Appends `n` in decimal (what `{n}` formats, without the formatter).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is a single digit.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

// Poisoning only follows a panic elsewhere; the tables stay consistent
// (every update is a single insert/remove), so keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Fault injection for tests: simulates what happens to a handle when its
/// process is paused, cut off or killed. Not for production use.
#[cfg(feature = "test-util")]
#[doc(hidden)]
#[derive(Debug)]
pub struct Faults<'a> {
    client: &'a Client,
}

#[cfg(feature = "test-util")]
impl Faults<'_> {
    /// Stops (or resumes) sending keepalives, as a paused or partitioned
    /// process would; leases then expire after their TTL and the handle's
    /// guards and leaders report *lost*.
    pub fn suspend_keepalive(&self, suspended: bool) {
        self.client
            .inner
            .keepalive_suspended
            .store(suspended, Ordering::Release);
    }

    /// Simulates a crash (`kill -9`): keepalives stop, nothing is released
    /// or revoked, the handle is closed. The store expires the leases after
    /// their TTL, as it would for a dead process.
    pub async fn crash(&self) {
        self.suspend_keepalive(true);
        self.client.inner.closed.store(true, Ordering::Release);
        let _granting = self.client.inner.granting.lock().await;
        let sessions: Vec<_> = lock(&self.client.inner.sessions).drain().collect();
        for (_, session) in &sessions {
            session.abandon();
        }
        for held in self.client.inner.held.drain() {
            held.session.abandon();
        }
    }

    /// Revokes this handle's leases in the store without telling the handle,
    /// as if they had expired: keys vanish now, the handle learns of it at
    /// its next keepalive or re-check.
    pub async fn expire_leases(&self) -> Result<()> {
        let leases = self.lease_ids().await;
        let backend = self.client.backend();
        for lease in leases {
            backend.revoke(lease).await?;
        }
        Ok(())
    }

    /// How many reads (get, range, watch) this handle's store has served:
    /// a waiter that is not woken makes none.
    pub fn store_reads(&self) -> u64 {
        self.client.backend().reads()
    }

    /// Lease ids of this handle's live sessions.
    pub async fn lease_ids(&self) -> Vec<i64> {
        let sessions = lock(&self.client.inner.sessions);
        sessions
            .values()
            .filter(|s| !s.is_lost())
            .map(|s| s.lease())
            .collect()
    }

    /// Deletes `key` if its create revision is `create_revision`, as another
    /// client (or an operator) could.
    pub async fn delete_key(&self, key: &str, create_revision: i64) -> Result<bool> {
        self.client
            .backend()
            .delete_owned(key, create_revision)
            .await
    }

    /// Compacts the store's history up to its current revision, as
    /// `etcdctl compact` does.
    pub async fn compact(&self, revision: i64) -> Result<()> {
        self.client.backend().compact(revision).await
    }

    /// Arms a fault at the `point`-th store call boundary this handle passes
    /// from now on (two per call: before and after).
    pub fn inject(&self, point: usize, action: crate::Injected) {
        self.client.backend().injector.arm(point, action);
    }

    /// Arms a fault before this handle's next store call named `op`.
    pub fn inject_at(&self, op: &'static str, action: crate::Injected) {
        self.client.backend().injector.arm_op(op, action);
    }

    /// Disarms the injection; returns how many points were passed.
    pub fn disarm(&self) -> usize {
        self.client.backend().injector.disarm()
    }

    /// Turns `Some(op)` once the armed point was reached (in store call `op`).
    pub fn injected(&self) -> tokio::sync::watch::Receiver<Option<&'static str>> {
        self.client.backend().injector.hit()
    }

    /// Every key under the handle's prefix, oldest first.
    pub async fn keys(&self) -> Result<Vec<crate::store::KeyValue>> {
        let dir = format!("{}/", read(&self.client.inner.options).trimmed_prefix());
        Ok(self
            .client
            .backend()
            .range(&dir, crate::store::RangeOptions::default())
            .await?
            .kvs)
    }
}

#[cfg(test)]
mod tests {
    use super::push_decimal;

    #[test]
    fn push_decimal_writes_what_format_writes() {
        for n in [0u64, 7, 10, 99, 1_764_180_000_123, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }
}
