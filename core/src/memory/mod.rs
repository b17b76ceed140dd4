//! The in-process backend: one store shared by every handle made from it, so
//! one process can play several "nodes". It implements the same store
//! operations as etcd (see `store.rs`), so the lock and election recipes
//! run unchanged on it and keep the same rules.
//!
//! Leases expire when nobody keeps them alive: a reaper thread (not a tokio
//! task, so the store outlives any one runtime and survives `fork()` by
//! restarting the thread) revokes overdue leases and their keys.

mod queue;
mod state;
mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::clock::MonoInstant;
use crate::error::Result;
use crate::per_process::{PerProcess, ProcessStamp};
use crate::store::{Created, KeyValue, LeaseId, QueuePosition, Range, RangeOptions, Store};

use state::State;
pub(crate) use watch::MemoryWatch;

/// An in-process store. Cloning gives another reference to the same store.
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the reaper when a lease's deadline may have moved earlier.
    wake: Condvar,
    /// The process whose reaper thread runs ([`ProcessStamp::packed`];
    /// 0 = none).
    reaper_process: AtomicU64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A new, empty store of its own.
    pub fn new() -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new()),
                wake: Condvar::new(),
                reaper_process: AtomicU64::new(0),
            }),
        }
    }

    /// The process-wide store that [`crate::Client::memory`] uses, so every
    /// memory handle of a process sees the same locks and elections. A
    /// child of `fork()` gets an empty one of its own: the parent's locks
    /// are the parent's, and the parent's copy may have been locked by one
    /// of its threads at the fork (SPEC H5).
    pub fn global() -> Self {
        static GLOBAL: PerProcess<MemoryStore> = PerProcess::new();
        GLOBAL.get_or_init(MemoryStore::new).clone()
    }

    /// Expires `lease` now, as if its owner had crashed and its TTL passed
    /// (fault injection for tests). Returns whether the lease existed.
    pub fn expire_lease(&self, lease: i64) -> bool {
        self.lock().revoke(lease)
    }

    /// Forgets watch history older than `revision`, as `etcdctl compact`
    /// does: watches that start earlier are told "compacted".
    pub fn compact_history(&self, revision: i64) {
        self.lock().compact(revision);
    }

    /// The current revision of the store.
    pub fn revision(&self) -> i64 {
        self.lock().revision()
    }

    /// Live lease ids (for tests that check nothing leaks).
    pub fn lease_ids(&self) -> Vec<i64> {
        self.lock().lease_ids()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.lock_now().0
    }

    /// The state, with overdue leases expired, and the instant that was
    /// checked against (one clock read for both). The clock is read
    /// coarsely (to the last timer tick: a lease expires here at most a tick
    /// after its deadline, and the reaper thread expires it on time), as
    /// every call of the store pays for this reading.
    fn lock_now(&self) -> (MutexGuard<'_, State>, MonoInstant) {
        // A panic while holding the lock cannot leave `State` half-updated
        // in a way that matters more than refusing service, so recover.
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = MonoInstant::coarse_now();
        state.expire(now);
        (state, now)
    }

    fn ensure_reaper(&self) {
        let here = ProcessStamp::here().packed();
        if self.shared.reaper_process.swap(here, Ordering::AcqRel) == here {
            return;
        }
        let weak = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("vinesync-memory-reaper".into())
            .spawn(move || reap(weak));
        if spawned.is_err() {
            // No thread: leases still expire lazily on every store access.
            self.shared.reaper_process.store(0, Ordering::Release);
        }
    }
}

/// Revokes overdue leases until the store is dropped.
fn reap(weak: Weak<Shared>) {
    const IDLE: Duration = Duration::from_millis(500);
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let state = shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut state = state;
        let now = MonoInstant::now();
        let next = state.expire(now);
        let wait = next.map_or(IDLE, |d| d.saturating_duration_since(now).min(IDLE));
        // Condvar wait releases the lock while sleeping.
        let _ = shared.wake.wait_timeout(state, wait);
    }
}

impl Store for MemoryStore {
    type Watch = MemoryWatch;

    async fn grant(&self, ttl: i64, id: LeaseId) -> Result<(LeaseId, i64)> {
        self.ensure_reaper();
        // Deadlines are set from a precise reading: never early.
        let id = self.lock().grant(ttl, Some(id), MonoInstant::now());
        self.shared.wake.notify_all();
        Ok((id, ttl))
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<i64> {
        self.ensure_reaper();
        Ok(self.lock().keep_alive(lease, MonoInstant::now()))
    }

    async fn revoke(&self, lease: LeaseId) -> Result<()> {
        self.lock().revoke(lease);
        Ok(())
    }

    async fn create(
        &self,
        key: &Arc<str>,
        value: Arc<[u8]>,
        lease: LeaseId,
        dir: &str,
    ) -> Result<Created> {
        let (mut state, now) = self.lock_now();
        state.create(key, value, lease, dir, now)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.lock().get(key))
    }

    async fn range(&self, dir: &str, options: RangeOptions) -> Result<Range> {
        Ok(self.lock().range(dir, options))
    }

    async fn queue_position(&self, dir: &str, key: &str, revision: i64) -> Result<QueuePosition> {
        Ok(self.lock().queue_position(dir, key, revision))
    }

    async fn delete_owned(&self, key: &str, create_revision: i64) -> Result<bool> {
        Ok(self.lock().delete_owned(key, create_revision))
    }

    async fn update_owned(&self, key: &str, create_revision: i64, value: Vec<u8>) -> Result<bool> {
        Ok(self.lock().update_owned(key, create_revision, value))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let mut state = self.lock();
        let existing = state.get(key).map(|kv| kv.create_revision);
        Ok(existing.is_some_and(|revision| state.delete_owned(key, revision)))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.compact_history(revision);
        Ok(())
    }

    async fn watch_now(&self, key: &str, prefix: bool) -> Result<(MemoryWatch, i64)> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut state = self.lock();
        let revision = state.revision();
        match state.watch(key, prefix, revision + 1, tx) {
            Ok(id) => {
                drop(state);
                Ok((MemoryWatch::new(self.clone(), id, rx), revision))
            }
            Err(current) => Err(crate::error::Error::internal(format!(
                "watching from now at revision {revision}: history compacted at {current}"
            ))),
        }
    }

    async fn watch(&self, key: &str, prefix: bool, from_revision: i64) -> Result<MemoryWatch> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let registered = self.lock().watch(key, prefix, from_revision, tx);
        match registered {
            Ok(id) => Ok(MemoryWatch::new(self.clone(), id, rx)),
            Err(current) => Ok(MemoryWatch::compacted(self.clone(), current)),
        }
    }
}

impl MemoryStore {
    pub(crate) fn unwatch(&self, id: u64) {
        self.lock().unwatch(id);
    }

    /// Tells this store from another while both exist.
    pub(crate) fn identity(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::store::{Watch, WatchEvent, WatchNext};

    /// SPEC H5: a child of `fork()` gets an empty global store of its own,
    /// never the parent's copy (whose mutex a parent thread may have held
    /// at the fork). The child makes that store, reads it and leaves with
    /// `_exit` (no test harness, no destructors; a panic is caught and
    /// reported as a failure, not unwound into the harness's copy).
    #[cfg(unix)]
    #[test]
    fn a_child_of_fork_gets_an_empty_global_store() {
        let parent = MemoryStore::global();
        let lease = parent.lock().grant(60, None, MonoInstant::now());
        let key: state::Key = Arc::from("/fork/locks/x/k");
        let now = MonoInstant::now();
        parent
            .lock()
            .create(&key, Arc::default(), lease, "/fork/locks/x/", now)
            .unwrap();
        // Held by this thread across the fork, as a reaper could hold it.
        let held = parent.shared.state.lock().unwrap();
        // SAFETY: the child only allocates (glibc's malloc is fork-safe),
        // makes a store and reads it, then _exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let fresh = std::panic::catch_unwind(|| {
                let mine = MemoryStore::global();
                mine.revision() == 1 && mine.lease_ids().is_empty()
            })
            .unwrap_or(false);
            // SAFETY: ends the child without running the parent's cleanup.
            unsafe { libc::_exit(if fresh { 0 } else { 1 }) };
        }
        drop(held);
        assert!(child > 0, "fork failed");
        let mut status = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut waited = 0;
        while waited == 0 && std::time::Instant::now() < deadline {
            // SAFETY: waits for our own child without blocking.
            waited = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
            std::thread::sleep(Duration::from_millis(10));
        }
        if waited == 0 {
            // SAFETY: our own child, stuck (the parent's store mutex).
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
            }
        }
        assert!(
            waited != -1,
            "waitpid failed: {}",
            std::io::Error::last_os_error()
        );
        assert!(waited == child, "the child hung (on the parent's store?)");
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child saw the parent's store (status {status:#x})"
        );
        // The parent's store is untouched.
        assert!(MemoryStore::global().lease_ids().contains(&lease));
        assert!(parent.lock().revoke(lease));
    }

    #[tokio::test]
    async fn leases_expire_without_any_other_call() {
        let store = MemoryStore::new();
        let (lease, _) = store.grant(1, 0x1000 + 1).await.unwrap();
        store
            .create(&Arc::from("/d/k"), Arc::default(), lease, "/d/")
            .await
            .unwrap();
        let mut watch = store.watch("/d/k", false, 1).await.unwrap();
        // The put is replayed from history, then the reaper's delete arrives.
        let mut deleted = false;
        while !deleted {
            let next = tokio::time::timeout(Duration::from_secs(3), watch.next())
                .await
                .expect("lease did not expire")
                .unwrap();
            if let WatchNext::Events(events) = next {
                deleted = events
                    .iter()
                    .any(|e| matches!(e, WatchEvent::Delete { .. }));
            }
        }
        assert!(store.get("/d/k").await.unwrap().is_none());
        assert!(store.lease_ids().is_empty());
    }

    #[tokio::test]
    async fn keep_alive_extends_and_reports_gone_leases() {
        let store = MemoryStore::new();
        let (lease, _) = store.grant(1, 0x1000 + 1).await.unwrap();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(store.keep_alive(lease).await.unwrap(), 1);
        }
        assert!(store.expire_lease(lease));
        assert_eq!(store.keep_alive(lease).await.unwrap(), 0);
        let err = store
            .create(&Arc::from("/d/k"), Arc::default(), lease, "/d/")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Lost);
    }

    #[tokio::test]
    async fn watch_from_compacted_revision_says_compacted() {
        let store = MemoryStore::new();
        let (lease, _) = store.grant(10, 0x1000 + 10).await.unwrap();
        store
            .create(&Arc::from("/d/a"), Arc::default(), lease, "/d/")
            .await
            .unwrap();
        let now = store.revision();
        store.compact_history(now);
        let mut watch = store.watch("/d/", true, now - 1).await.unwrap();
        assert!(matches!(
            watch.next().await.unwrap(),
            WatchNext::Compacted { .. }
        ));
        let mut live = store.watch("/d/", true, now + 1).await.unwrap();
        store
            .create(&Arc::from("/d/b"), Arc::default(), lease, "/d/")
            .await
            .unwrap();
        assert!(matches!(live.next().await.unwrap(), WatchNext::Events(e) if e.len() == 1));
    }

    #[tokio::test]
    async fn delete_owned_checks_the_create_revision() {
        let store = MemoryStore::new();
        let (lease, _) = store.grant(10, 0x1000 + 10).await.unwrap();
        let created = store
            .create(&Arc::from("/d/a"), Arc::default(), lease, "/d/")
            .await
            .unwrap();
        assert!(!store
            .delete_owned("/d/a", created.revision + 1)
            .await
            .unwrap());
        assert!(store.delete_owned("/d/a", created.revision).await.unwrap());
        assert!(!store.delete_owned("/d/a", created.revision).await.unwrap());
    }
}
