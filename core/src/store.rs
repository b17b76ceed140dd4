//! The small set of store operations the lock and election recipes need
//! (RECIPES.md, "recipes written once"). etcd implements them with KV, Txn,
//! Watch and Lease; the memory backend with an in-process map and a revision
//! counter. The recipes in `mutex.rs` and `election.rs` only speak this
//! language, so both backends keep the same rules by construction.

use std::future::Future;
use std::sync::Arc;

use crate::error::Result;

/// An etcd lease id (memory leases use the same numbering scheme).
pub(crate) type LeaseId = i64;

/// One key as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: String,
    /// The raw value.
    pub value: Vec<u8>,
    /// Revision at which the key was created (the fencing token of a lock key).
    pub create_revision: i64,
    /// Revision of the last write to the key.
    pub mod_revision: i64,
    /// The lease the key is attached to (0 = none).
    pub lease: i64,
}

/// Result of [`Store::create`].
#[derive(Debug, Clone)]
pub(crate) struct Created {
    /// The revision of the write = the new key's create revision.
    pub revision: i64,
    /// The lowest create revision under the directory (that of its first
    /// key), after the write. `None` when the store did not read it: then
    /// the new key is not the first, and `predecessor` names the key before
    /// it.
    pub first_revision: Option<i64>,
    /// When the new key is not the first: the newest key older than it
    /// (its predecessor in the queue), if the store read it in the same
    /// transaction; `None` leaves the waiter to read it.
    pub predecessor: Option<KeyValue>,
    /// The write was sent more than once: an earlier send whose answer was
    /// lost may still take effect later.
    pub resent: bool,
}

/// What a delete of a key whose name is ours alone found
/// ([`crate::backend::Backend::delete_unique`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deleted {
    /// Our key was there and is gone (after a resend: was gone, which our
    /// own earlier send may have done).
    pub ours: bool,
    /// The delete was sent more than once.
    pub resent: bool,
}

/// A range read sorted by create revision.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RangeOptions {
    /// Only keys created at or before this revision.
    pub max_create_revision: Option<i64>,
    /// Newest first instead of oldest first.
    pub descending: bool,
    /// At most this many keys (`None` = all).
    pub limit: Option<usize>,
    /// Keys and revisions only: the values may be left empty.
    pub keys_only: bool,
}

/// A range read's keys and the store revision it was taken at.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    pub kvs: Vec<KeyValue>,
    pub revision: i64,
}

/// Where a waiter stands in its queue, read in one step
/// ([`Store::queue_position`]).
#[derive(Debug, Clone)]
pub(crate) struct QueuePosition {
    /// The newest key older than the waiter's (keys only), if any is left.
    pub older: Option<KeyValue>,
    /// The waiter's own key is still there with its create revision.
    pub own_key_present: bool,
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WatchEvent {
    Put(KeyValue),
    Delete { key: String, revision: i64 },
}

/// What a watch delivers next.
#[derive(Debug, Clone)]
pub(crate) enum WatchNext {
    /// Changes, in revision order.
    Events(Vec<WatchEvent>),
    /// The store compacted history past the watch's position: re-read the
    /// state and resume from `revision` (never skip silently).
    Compacted { revision: i64 },
}

/// A watch of one key or of a directory (prefix), from a revision on.
/// Implementations resume by themselves after a broken connection.
pub(crate) trait Watch: Send + 'static {
    fn next(&mut self) -> impl Future<Output = Result<WatchNext>> + Send;
}

/// The store operations behind every recipe.
pub(crate) trait Store: Send + Sync + 'static {
    type Watch: Watch;

    /// Grants lease `id` (chosen by the caller, so a grant whose answer was
    /// lost can still be revoked by id: SPEC H3) of `ttl` seconds; returns
    /// its id and the TTL the store granted (etcd raises TTLs below its
    /// minimum lease TTL).
    fn grant(&self, ttl: i64, id: LeaseId) -> impl Future<Output = Result<(LeaseId, i64)>> + Send;

    /// Renews a lease; returns its remaining TTL in seconds (≤ 0: gone).
    fn keep_alive(&self, lease: LeaseId) -> impl Future<Output = Result<i64>> + Send;

    /// Revokes a lease, deleting its keys.
    fn revoke(&self, lease: LeaseId) -> impl Future<Output = Result<()>> + Send;

    /// Put-if-absent of `key` and `value` (shared: the memory store keeps
    /// both without copying them) with `lease`, and in the same transaction where
    /// it stands under `dir`: whether it is the first key (lowest create
    /// revision) and, if not, its predecessor (see [`Created`]). A key that already
    /// exists is an `Internal` error (a name is written again only once no
    /// write of it can be pending: `key_names.rs`), unless it is this
    /// create's own earlier send; a lease that no longer exists is `Lost`.
    fn create(
        &self,
        key: &Arc<str>,
        value: Arc<[u8]>,
        lease: LeaseId,
        dir: &str,
    ) -> impl Future<Output = Result<Created>> + Send;

    /// Reads one key.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<KeyValue>>> + Send;

    /// Reads the keys under `dir`, sorted by create revision.
    fn range(&self, dir: &str, options: RangeOptions)
        -> impl Future<Output = Result<Range>> + Send;

    /// In one read: the newest key under `dir` created before `revision`
    /// (keys only), and whether `key` still has create revision `revision`
    /// — what a waiter checks after its predecessor is gone (SPEC L2, L9).
    fn queue_position(
        &self,
        dir: &str,
        key: &str,
        revision: i64,
    ) -> impl Future<Output = Result<QueuePosition>> + Send;

    /// Deletes `key` only if its create revision is `create_revision`
    /// (ownership guard). Returns whether it deleted.
    fn delete_owned(
        &self,
        key: &str,
        create_revision: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Replaces the value of `key` (keeping its lease) only if its create
    /// revision is `create_revision`. Returns whether it did.
    fn update_owned(
        &self,
        key: &str,
        create_revision: i64,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Deletes `key` whatever its revision; returns whether it existed.
    /// Only for keys whose name is ours alone (`{lease:x}_{seq:x}`): the
    /// cleanup of a write whose outcome is unknown (SPEC H3), which cannot
    /// know the create revision.
    fn delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Forgets history before `revision` (tests of the compaction paths).
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))] // fault hooks only
    fn compact(&self, revision: i64) -> impl Future<Output = Result<()>> + Send;

    /// Watches `key` (or every key under it when `prefix`) from the current
    /// revision on; returns the watch and that revision (changes after it
    /// are delivered). Cheaper for etcd than a watch from a past revision.
    fn watch_now(
        &self,
        key: &str,
        prefix: bool,
    ) -> impl Future<Output = Result<(Self::Watch, i64)>> + Send;

    /// Watches `key` (or every key under it when `prefix`) from `from_revision`.
    fn watch(
        &self,
        key: &str,
        prefix: bool,
        from_revision: i64,
    ) -> impl Future<Output = Result<Self::Watch>> + Send;
}
