//! Static dispatch from the recipes to the store the handle was made with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::Result;
use crate::etcd::{EtcdStore, EtcdWatch};
use crate::memory::{MemoryStore, MemoryWatch};
use crate::store::{
    Created, Deleted, KeyValue, LeaseId, QueuePosition, Range, RangeOptions, Store, Watch,
    WatchNext,
};

/// The store behind a handle, with a count of the reads it served (tests
/// use it to see that a handoff wakes one waiter, not all: SPEC L2).
#[derive(Clone, Debug)]
pub(crate) struct Backend {
    store: Kind,
    reads: Arc<AtomicU64>,
    /// Test-only faults at every store call (kept across `init`).
    #[cfg(feature = "test-util")]
    pub injector: Arc<crate::inject::Injector>,
}

#[derive(Clone, Debug)]
enum Kind {
    Memory(MemoryStore),
    Etcd(Arc<EtcdStore>),
}

/// A watch on either store.
pub(crate) enum BackendWatch {
    Memory(MemoryWatch),
    Etcd(Box<EtcdWatch>),
}

impl Backend {
    pub fn memory(store: MemoryStore) -> Self {
        Self::with(Kind::Memory(store))
    }

    pub fn etcd(store: EtcdStore) -> Self {
        Self::with(Kind::Etcd(Arc::new(store)))
    }

    fn with(store: Kind) -> Self {
        Backend {
            store,
            reads: Arc::new(AtomicU64::new(0)),
            #[cfg(feature = "test-util")]
            injector: Arc::default(),
        }
    }

    /// `"memory"` or `"etcd"` — vine's `String()`.
    pub fn name(&self) -> &'static str {
        match self.store {
            Kind::Memory(_) => "memory",
            Kind::Etcd(_) => "etcd",
        }
    }

    /// The store object behind this backend (one connection on etcd), by
    /// address: the same for the clones of one backend, another after an
    /// `init` reconnected.
    pub fn store_address(&self) -> usize {
        match &self.store {
            Kind::Memory(store) => store.identity(),
            Kind::Etcd(store) => Arc::as_ptr(store) as usize,
        }
    }

    /// The etcd cluster's id as its connect's answer said (0 on memory or
    /// if it said none). Not unique: clusters started with the same peer
    /// URLs and cluster token share it.
    pub fn cluster_id(&self) -> u64 {
        match &self.store {
            Kind::Memory(_) => 0,
            Kind::Etcd(store) => store.cluster_id(),
        }
    }

    pub fn is_etcd(&self) -> bool {
        matches!(self.store, Kind::Etcd(_))
    }

    /// Drops the keepalive stream of a lease that is gone (etcd).
    pub fn forget_keepalive(&self, lease: LeaseId) {
        if let Kind::Etcd(store) = &self.store {
            store.forget_keepalive(lease);
        }
    }

    /// The etcd store, for etcd-only features (guarded transactions).
    pub fn as_etcd(&self) -> Option<&EtcdStore> {
        match &self.store {
            Kind::Etcd(store) => Some(store),
            Kind::Memory(_) => None,
        }
    }

    /// Reads (get, range, queue_position, watch) served so far.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))] // fault hooks only
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn count_read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }
}

/// Calls the same method on whichever store, passing the test-only
/// injection points before and after it (`$op` names the call).
macro_rules! dispatch {
    ($self:ident, $op:literal, $store:ident => $call:expr) => {{
        #[cfg(feature = "test-util")]
        $self
            .injector
            .point($op, crate::inject::Phase::Before)
            .await?;
        let result = match &$self.store {
            Kind::Memory($store) => $call.await,
            // Boxed: an etcd call's future is large, and a future's size is
            // that of its largest variant, so unboxed it would make every
            // memory call (and the lock future around it) as large too.
            Kind::Etcd($store) => Box::pin($call).await,
        };
        #[cfg(feature = "test-util")]
        $self
            .injector
            .point($op, crate::inject::Phase::After)
            .await?;
        result
    }};
}

impl Backend {
    /// Releases a key whose name is ours alone if it still has create
    /// revision `create_revision`; returns whether it did. On etcd one plain
    /// delete with prev_kv ([`EtcdStore::delete_unique`]), elsewhere the
    /// guarded delete. Same injection point as `delete_owned`: it is the
    /// same release.
    pub async fn delete_unique(&self, key: &str, create_revision: i64) -> Result<Deleted> {
        #[cfg(feature = "test-util")]
        self.injector
            .point("delete_owned", crate::inject::Phase::Before)
            .await?;
        let result = match &self.store {
            Kind::Memory(s) => s
                .delete_owned(key, create_revision)
                .await
                .map(|ours| Deleted {
                    ours,
                    resent: false,
                }),
            Kind::Etcd(s) => Box::pin(s.delete_unique(key, create_revision)).await,
        };
        #[cfg(feature = "test-util")]
        self.injector
            .point("delete_owned", crate::inject::Phase::After)
            .await?;
        result
    }
}

/// Like `dispatch!` without injection points (keepalives, revokes and
/// compaction run on timers or at close, outside the calls under test).
macro_rules! dispatch_plain {
    ($self:ident, $store:ident => $call:expr) => {
        match &$self.store {
            Kind::Memory($store) => $call.await,
            Kind::Etcd($store) => Box::pin($call).await,
        }
    };
}

impl Store for Backend {
    type Watch = BackendWatch;

    async fn grant(&self, ttl: i64, id: LeaseId) -> Result<(LeaseId, i64)> {
        dispatch!(self, "grant", s => s.grant(ttl, id))
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<i64> {
        dispatch_plain!(self, s => s.keep_alive(lease))
    }

    async fn revoke(&self, lease: LeaseId) -> Result<()> {
        dispatch_plain!(self, s => s.revoke(lease))
    }

    async fn create(
        &self,
        key: &Arc<str>,
        value: Arc<[u8]>,
        lease: LeaseId,
        dir: &str,
    ) -> Result<Created> {
        dispatch!(self, "create", s => s.create(key, value, lease, dir))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.count_read();
        dispatch!(self, "get", s => s.get(key))
    }

    async fn range(&self, dir: &str, options: RangeOptions) -> Result<Range> {
        self.count_read();
        dispatch!(self, "range", s => s.range(dir, options))
    }

    async fn queue_position(&self, dir: &str, key: &str, revision: i64) -> Result<QueuePosition> {
        self.count_read();
        dispatch!(self, "queue_position", s => s.queue_position(dir, key, revision))
    }

    async fn delete_owned(&self, key: &str, create_revision: i64) -> Result<bool> {
        dispatch!(self, "delete_owned", s => s.delete_owned(key, create_revision))
    }

    async fn update_owned(&self, key: &str, create_revision: i64, value: Vec<u8>) -> Result<bool> {
        dispatch!(self, "update_owned", s => s.update_owned(key, create_revision, value))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        dispatch!(self, "delete", s => s.delete(key))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        dispatch_plain!(self, s => s.compact(revision))
    }

    async fn watch_now(&self, key: &str, prefix: bool) -> Result<(BackendWatch, i64)> {
        self.count_read();
        #[cfg(feature = "test-util")]
        self.injector
            .point("watch", crate::inject::Phase::Before)
            .await?;
        Ok(match &self.store {
            Kind::Memory(s) => {
                let (w, r) = s.watch_now(key, prefix).await?;
                (BackendWatch::Memory(w), r)
            }
            Kind::Etcd(s) => {
                let (w, r) = Box::pin(s.watch_now(key, prefix)).await?;
                (BackendWatch::Etcd(Box::new(w)), r)
            }
        })
    }

    async fn watch(&self, key: &str, prefix: bool, from_revision: i64) -> Result<BackendWatch> {
        self.count_read();
        #[cfg(feature = "test-util")]
        self.injector
            .point("watch", crate::inject::Phase::Before)
            .await?;
        Ok(match &self.store {
            Kind::Memory(s) => BackendWatch::Memory(s.watch(key, prefix, from_revision).await?),
            Kind::Etcd(s) => BackendWatch::Etcd(Box::new(
                Box::pin(s.watch(key, prefix, from_revision)).await?,
            )),
        })
    }
}

impl Watch for BackendWatch {
    async fn next(&mut self) -> Result<WatchNext> {
        match self {
            BackendWatch::Memory(w) => w.next().await,
            BackendWatch::Etcd(w) => Box::pin(w.next()).await,
        }
    }
}
