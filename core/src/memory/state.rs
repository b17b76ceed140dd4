//! The memory store's data: keys, leases, a revision counter, a bounded
//! history for watches that start in the past, and the live watchers.
//! Everything here runs under one mutex, in short critical sections.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::queue::Queue;
use crate::clock::MonoInstant;
use crate::error::{Error, ErrorKind, Result};
use crate::fasthash::FastMap;
use crate::store::{Created, KeyValue, LeaseId, QueuePosition, Range, RangeOptions, WatchEvent};

/// How many past events a watch can start from; older starts are told
/// "compacted", as etcd does, and the recipes re-read.
pub(super) const HISTORY_LIMIT: usize = 8192;

/// How many empty queues `State::children` keeps before sweeping them.
const EMPTY_QUEUES_KEPT: usize = 1024;

/// A key's name, shared by the maps that index it (one allocation a key).
pub(super) type Key = Arc<str>;

struct Lease {
    ttl: i64,
    deadline: MonoInstant,
    /// The lease's keys by create revision (an integer is cheaper to hash
    /// than the key's name).
    keys: FastMap<i64, Key>,
}

/// A key as the table keeps it: its name shared with the indexes, so a
/// write allocates the name once. Readers get a [`KeyValue`] copy.
#[derive(Clone)]
struct Stored {
    key: Key,
    /// Shared with the writer (a lock's holder value is built once and
    /// written by many acquisitions).
    value: Arc<[u8]>,
    create_revision: i64,
    mod_revision: i64,
    lease: i64,
}

impl Stored {
    /// The reader's copy; `with_value: false` leaves the value empty.
    fn to_kv(&self, with_value: bool) -> KeyValue {
        KeyValue {
            key: self.key.to_string(),
            value: if with_value {
                self.value.to_vec()
            } else {
                Vec::new()
            },
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            lease: self.lease,
        }
    }
}

/// A change as the history keeps it: shared with the key table, so a write
/// copies neither key nor value for it. Watchers get a [`WatchEvent`] made
/// from it when they need one.
enum Event {
    Put(Arc<Stored>),
    Delete { key: Key, revision: i64 },
}

impl Event {
    fn key(&self) -> &str {
        match self {
            Event::Put(kv) => &kv.key,
            Event::Delete { key, .. } => key,
        }
    }

    fn to_watch(&self) -> WatchEvent {
        match self {
            Event::Put(kv) => WatchEvent::Put(kv.to_kv(true)),
            Event::Delete { key, revision } => WatchEvent::Delete {
                key: key.to_string(),
                revision: *revision,
            },
        }
    }
}

struct Watcher {
    id: u64,
    tx: UnboundedSender<WatchEvent>,
}

/// Watchers of single keys (looked up by key) and of prefixes (few: one
/// per election feed), so an event costs O(its own watchers), not O(all).
#[derive(Default)]
struct Watchers {
    by_key: FastMap<String, Vec<Watcher>>,
    by_prefix: Vec<(String, Watcher)>,
    /// id → (key, prefix?) for `unwatch`.
    index: FastMap<u64, (String, bool)>,
}

#[derive(Default)]
pub(super) struct State {
    revision: i64,
    /// Events before this revision are no longer in `history`.
    compacted: i64,
    /// Every key (reads in order go through `children`).
    kvs: FastMap<Key, Arc<Stored>>,
    /// Keys by parent directory (up to the last '/'), by create revision:
    /// the queue of a lock or an election without scanning the directory.
    /// A queue that empties is kept (a lock taken and released again and
    /// again would otherwise allocate and free its directory each time);
    /// empty queues are swept once there are more than
    /// [`EMPTY_QUEUES_KEPT`].
    children: BTreeMap<String, Queue>,
    /// How many queues in `children` are empty.
    empty_queues: usize,
    leases: FastMap<LeaseId, Lease>,
    /// No lease is due before this instant (a lower bound).
    earliest_deadline: Option<MonoInstant>,
    next_lease: LeaseId,
    history: VecDeque<(i64, Event)>,
    watchers: Watchers,
    next_watcher: u64,
}

/// The directories above `dir`, as `State::queues_under` sees them: the
/// empty one (of keys without '/'), then each prefix up to one of its '/',
/// `dir` itself excluded: `/a/b/` gives ``, `/` and `/a/`.
fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    let root = (!dir.is_empty()).then_some("");
    root.into_iter().chain(
        dir.char_indices()
            .filter(move |&(i, c)| c == '/' && i + 1 < dir.len())
            .map(move |(i, _)| &dir[..=i]),
    )
}

/// The directory of a key: everything up to and including its last '/'.
/// A byte scan from the end: the '/' is a few bytes back in our keys, and
/// `rfind`'s general search costs more than the whole scan.
fn parent(key: &str) -> &str {
    key.bytes()
        .rposition(|b| b == b'/')
        .map_or("", |i| &key[..=i])
}

impl State {
    pub fn new() -> Self {
        State {
            revision: 1,
            compacted: 1,
            // Lease ids look like etcd's (large, hex-printable), and differ
            // between stores so tests cannot confuse them.
            next_lease: 0x694d_0000_0000 + i64::from(std::process::id() & 0xffff) * 0x10000,
            ..State::default()
        }
    }

    pub fn revision(&self) -> i64 {
        self.revision
    }

    pub fn grant(&mut self, ttl: i64, id: Option<LeaseId>, now: MonoInstant) -> LeaseId {
        let id = id.unwrap_or_else(|| {
            self.next_lease += 1;
            self.next_lease
        });
        let deadline = now + secs(ttl);
        self.leases.insert(
            id,
            Lease {
                ttl,
                deadline,
                keys: FastMap::default(),
            },
        );
        self.earliest_deadline = Some(self.earliest_deadline.map_or(deadline, |d| d.min(deadline)));
        id
    }

    /// Renews `lease`; returns its TTL, or 0 when it is gone.
    pub fn keep_alive(&mut self, lease: LeaseId, now: MonoInstant) -> i64 {
        match self.leases.get_mut(&lease) {
            Some(l) if l.deadline > now => {
                l.deadline = now + secs(l.ttl);
                l.ttl
            }
            _ => 0,
        }
    }

    /// Deletes the lease and every key attached to it.
    pub fn revoke(&mut self, lease: LeaseId) -> bool {
        let Some(l) = self.leases.remove(&lease) else {
            return false;
        };
        if !l.keys.is_empty() {
            self.revision += 1;
            let mut keys: Vec<_> = l.keys.into_values().collect();
            keys.sort();
            for key in keys {
                if let Some(kv) = self.kvs.remove(&key) {
                    self.unindex(&key, kv.create_revision);
                }
                let rev = self.revision;
                self.emit(Event::Delete { key, revision: rev }, rev);
            }
        }
        true
    }

    /// Revokes every lease whose deadline has passed; returns the earliest
    /// deadline still pending.
    pub fn expire(&mut self, now: MonoInstant) -> Option<MonoInstant> {
        if self.earliest_deadline.is_none_or(|d| d > now) {
            return self.earliest_deadline;
        }
        let overdue: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            self.revoke(id);
        }
        self.earliest_deadline = self.leases.values().map(|l| l.deadline).min();
        self.earliest_deadline
    }

    fn index(&mut self, key: &Key, create_revision: i64) {
        // The directory's name is allocated only for a new directory.
        let dir = parent(key);
        match self.children.get_mut(dir) {
            Some(queue) => {
                if queue.is_empty() {
                    self.empty_queues -= 1;
                }
                queue.insert(create_revision, key.clone());
            }
            None => {
                let mut queue = Queue::default();
                queue.insert(create_revision, key.clone());
                // A new directory: it counts in its ancestors' `nested`,
                // and its own counts those already under it (both rare).
                self.count_in_ancestors(dir);
                queue.nested = self.queues_under(dir).count();
                self.children.insert(dir.to_string(), queue);
            }
        }
    }

    /// Counts again, for every directory, the directories under it (after
    /// a sweep removed some).
    fn count_nested(&mut self) {
        let names: Vec<String> = self.children.keys().cloned().collect();
        for queue in self.children.values_mut() {
            queue.nested = 0;
        }
        for name in &names {
            self.count_in_ancestors(name);
        }
    }

    /// Counts directory `dir` in the `nested` of each directory above it.
    fn count_in_ancestors(&mut self, dir: &str) {
        for ancestor in ancestors(dir) {
            if let Some(above) = self.children.get_mut(ancestor) {
                above.nested += 1;
            }
        }
    }

    /// The queue of `dir` when no other directory is under it: then it
    /// alone holds the directory's keys (no walk of the ordered index).
    fn only_queue(&self, dir: &str) -> Option<&Queue> {
        self.children.get(dir).filter(|queue| queue.nested == 0)
    }

    fn unindex(&mut self, key: &str, create_revision: i64) {
        let dir = parent(key);
        if let Some(queue) = self.children.get_mut(dir) {
            if queue.remove(create_revision) && queue.is_empty() {
                self.empty_queues += 1;
                if self.empty_queues > EMPTY_QUEUES_KEPT {
                    self.children.retain(|_, queue| !queue.is_empty());
                    self.empty_queues = 0;
                    self.count_nested();
                }
            }
        }
    }

    pub fn lease_ids(&self) -> Vec<LeaseId> {
        self.leases.keys().copied().collect()
    }

    pub fn create(
        &mut self,
        key: &Key,
        value: Arc<[u8]>,
        lease: LeaseId,
        dir: &str,
        now: MonoInstant,
    ) -> Result<Created> {
        // One search of the leases for the check and for filing the key.
        let keys_of_lease = match self.leases.get_mut(&lease) {
            Some(l) if l.deadline > now => &mut l.keys,
            _ => {
                return Err(Error::new(
                    ErrorKind::Lost,
                    format!("lease {lease:x} not found (expired or revoked)"),
                ))
            }
        };
        // One search of the table for both the check and the insert. The
        // caller's name is shared: no copy of it.
        let slot = match self.kvs.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => {
                return Err(Error::internal(format!("key {key:?} already exists")));
            }
            std::collections::hash_map::Entry::Vacant(slot) => slot,
        };
        self.revision += 1;
        let rev = self.revision;
        let kv = Arc::new(Stored {
            key: slot.key().clone(),
            value,
            create_revision: rev,
            mod_revision: rev,
            lease,
        });
        slot.insert(kv.clone());
        keys_of_lease.insert(rev, kv.key.clone());
        self.index(&kv.key, rev);
        self.emit(Event::Put(kv), rev);
        let first_revision = self.first_under(dir);
        // Not the first: name the key just before ours, read in the same
        // step, so the waiter needs no range read of its own.
        let predecessor = match first_revision {
            Some(first) if first != rev => self.newest_before(dir, rev),
            _ => None,
        };
        Ok(Created {
            revision: rev,
            first_revision,
            predecessor,
            resent: false,
        })
    }

    /// Replaces the value of `key` if its create revision is
    /// `create_revision` (keeping its lease); returns whether it did.
    pub fn update_owned(&mut self, key: &str, create_revision: i64, value: Vec<u8>) -> bool {
        let Some(kv) = self.kvs.get_mut(key) else {
            return false;
        };
        if kv.create_revision != create_revision {
            return false;
        }
        self.revision += 1;
        let rev = self.revision;
        // A copy when the history still shares the old version.
        let stored = Arc::make_mut(kv);
        stored.value = value.into();
        stored.mod_revision = rev;
        let kv = kv.clone();
        self.emit(Event::Put(kv), rev);
        true
    }

    /// The queues (by create revision) of `dir` and of the directories
    /// under it.
    fn queues_under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a Queue> {
        self.children
            .range::<str, _>((std::ops::Bound::Included(dir), std::ops::Bound::Unbounded))
            .take_while(move |(parent, _)| parent.starts_with(dir))
            .map(|(_, queue)| queue)
    }

    /// The lowest create revision under `dir` (each queue is in order, so
    /// the least of their first entries; no key is copied).
    fn first_under(&self, dir: &str) -> Option<i64> {
        if let Some(queue) = self.only_queue(dir) {
            return queue.first_revision();
        }
        self.queues_under(dir)
            .filter_map(Queue::first_revision)
            .min()
    }

    /// The newest key under `dir` created before `revision` (keys only).
    fn newest_before(&self, dir: &str, revision: i64) -> Option<KeyValue> {
        let (_, key) = match self.only_queue(dir) {
            Some(queue) => queue.newest_before(revision)?,
            None => self
                .queues_under(dir)
                .filter_map(|queue| queue.newest_before(revision))
                .max_by_key(|(rev, _)| *rev)?,
        };
        self.kvs.get(key).map(|kv| kv.to_kv(false))
    }

    /// See [`crate::store::Store::queue_position`].
    pub fn queue_position(&self, dir: &str, key: &str, revision: i64) -> QueuePosition {
        QueuePosition {
            older: self.newest_before(dir, revision),
            own_key_present: self
                .kvs
                .get(key)
                .is_some_and(|kv| kv.create_revision == revision),
        }
    }

    pub fn get(&self, key: &str) -> Option<KeyValue> {
        self.kvs.get(key).map(|kv| kv.to_kv(true))
    }

    /// Keys under `dir` by create revision, through the per-directory index:
    /// a lock's queue costs O(log n + limit), not a scan of the directory.
    pub fn range(&self, dir: &str, options: RangeOptions) -> Range {
        let max = options.max_create_revision.unwrap_or(i64::MAX);
        let limit = options.limit.unwrap_or(usize::MAX);
        // A keys-only range leaves the values empty (no copy of them).
        let copy = |kv: &Arc<Stored>| kv.to_kv(!options.keys_only);
        let mut queues = self.queues_under(dir);
        let kvs: Vec<KeyValue> = match (queues.next(), queues.next()) {
            (None, _) => Vec::new(),
            // The common case: one directory, read in order.
            (Some(queue), None) => {
                let window = queue.up_to(max);
                let keys: Box<dyn Iterator<Item = &(i64, Key)>> = if options.descending {
                    Box::new(window.rev())
                } else {
                    Box::new(window)
                };
                keys.filter_map(|(_, key)| self.kvs.get(key))
                    .filter(|kv| kv.key.starts_with(dir))
                    .take(limit)
                    .map(copy)
                    .collect()
            }
            // Nested directories: merge them.
            (Some(first), Some(second)) => {
                let mut all: Vec<(i64, &Key)> = [first, second]
                    .into_iter()
                    .chain(queues)
                    .flat_map(|queue| queue.up_to(max).map(|(rev, key)| (*rev, key)))
                    .collect();
                all.sort_by_key(|(rev, _)| *rev);
                if options.descending {
                    all.reverse();
                }
                all.into_iter()
                    .filter_map(|(_, key)| self.kvs.get(key))
                    .take(limit)
                    .map(copy)
                    .collect()
            }
        };
        Range {
            kvs,
            revision: self.revision,
        }
    }

    pub fn delete_owned(&mut self, key: &str, create_revision: i64) -> bool {
        // One search of the table: take the key out, and put it back in the
        // rare case that it is not the one meant (a name reused).
        let Some((name, kv)) = self.kvs.remove_entry(key) else {
            return false;
        };
        if kv.create_revision != create_revision {
            self.kvs.insert(name, kv);
            return false;
        }
        self.unindex(key, kv.create_revision);
        if let Some(l) = self.leases.get_mut(&kv.lease) {
            l.keys.remove(&kv.create_revision);
        }
        self.revision += 1;
        let rev = self.revision;
        self.emit(
            Event::Delete {
                key: name,
                revision: rev,
            },
            rev,
        );
        true
    }

    /// Registers a watcher from `from_revision`: replays the history it asks
    /// for, then gets live events. `Err(current revision)` when that history
    /// is gone (compacted).
    pub fn watch(
        &mut self,
        key: &str,
        prefix: bool,
        from_revision: i64,
        tx: UnboundedSender<WatchEvent>,
    ) -> std::result::Result<u64, i64> {
        if from_revision < self.compacted {
            return Err(self.revision);
        }
        // The history is in revision order: start at the first event the
        // watch asks for (a watch from now replays nothing, whatever the
        // history's length).
        let start = self
            .history
            .partition_point(|(rev, _)| *rev < from_revision);
        for (_, event) in self.history.range(start..) {
            if matches(key, prefix, event.key()) {
                // A closed receiver just means the watch is already gone.
                let _ = tx.send(event.to_watch());
            }
        }
        self.next_watcher += 1;
        let id = self.next_watcher;
        let watcher = Watcher { id, tx };
        if prefix {
            self.watchers.by_prefix.push((key.to_string(), watcher));
        } else {
            self.watchers
                .by_key
                .entry(key.to_string())
                .or_default()
                .push(watcher);
        }
        self.watchers.index.insert(id, (key.to_string(), prefix));
        Ok(id)
    }

    pub fn unwatch(&mut self, id: u64) {
        let Some((key, prefix)) = self.watchers.index.remove(&id) else {
            return;
        };
        if prefix {
            self.watchers.by_prefix.retain(|(_, w)| w.id != id);
        } else if let Some(list) = self.watchers.by_key.get_mut(&key) {
            list.retain(|w| w.id != id);
            if list.is_empty() {
                self.watchers.by_key.remove(&key);
            }
        }
    }

    /// Drops history older than `revision`, as `etcdctl compact` does.
    pub fn compact(&mut self, revision: i64) {
        while self.history.front().is_some_and(|(rev, _)| *rev < revision) {
            self.history.pop_front();
        }
        self.compacted = self.compacted.max(revision);
    }

    fn emit(&mut self, event: Event, rev: i64) {
        let key = event.key();
        // A send fails only when the watch was dropped; `unwatch` removes
        // it from the index right after, so just skip it here. No watcher
        // of the key: nothing to hash, nothing to copy.
        if !self.watchers.by_key.is_empty() {
            if let Some(list) = self.watchers.by_key.get(key) {
                for w in list {
                    let _ = w.tx.send(event.to_watch());
                }
            }
        }
        for (prefix, w) in &self.watchers.by_prefix {
            if key.starts_with(prefix.as_str()) {
                let _ = w.tx.send(event.to_watch());
            }
        }
        self.history.push_back((rev, event));
        if self.history.len() > HISTORY_LIMIT {
            if let Some((old, _)) = self.history.pop_front() {
                self.compacted = old + 1;
            }
        }
    }
}

fn matches(watched: &str, prefix: bool, key: &str) -> bool {
    if prefix {
        key.starts_with(watched)
    } else {
        key == watched
    }
}

fn secs(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn state_with_lease() -> (State, LeaseId, MonoInstant) {
        let mut state = State::new();
        let now = MonoInstant::now();
        let lease = state.grant(60, None, now);
        (state, lease, now)
    }

    #[test]
    fn a_lease_past_its_deadline_takes_no_key_even_before_it_is_expired() {
        let (mut state, lease, granted) = state_with_lease();
        let late = granted + Duration::from_secs(61);
        let refused = state
            .create(&Arc::from("/l/k"), Arc::default(), lease, "/l/", late)
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Lost);
        assert_eq!(state.keep_alive(lease, late), 0);
    }

    #[test]
    fn empty_queues_are_kept_for_reuse_but_bounded() {
        let (mut state, lease, now) = state_with_lease();
        let created = state
            .create(&Arc::from("/l/a/k1"), Arc::default(), lease, "/l/a/", now)
            .unwrap();
        assert!(state.delete_owned("/l/a/k1", created.revision));
        // The emptied queue is kept, and a new key in it is the first.
        assert_eq!(state.children.len(), 1);
        let again = state
            .create(&Arc::from("/l/a/k2"), Arc::default(), lease, "/l/a/", now)
            .unwrap();
        assert_eq!(again.first_revision, Some(again.revision));
        assert_eq!(state.empty_queues, 0);
        assert!(state.delete_owned("/l/a/k2", again.revision));
        // Many distinct ids taken and released: the kept ones stay bounded.
        for i in 0..3 * EMPTY_QUEUES_KEPT {
            let (dir, key) = (format!("/l/{i}/"), format!("/l/{i}/k"));
            let created = state
                .create(&Arc::from(key.as_str()), Arc::default(), lease, &dir, now)
                .unwrap();
            assert!(state.delete_owned(&key, created.revision));
        }
        assert!(
            state.children.len() <= EMPTY_QUEUES_KEPT + 1,
            "{} directories kept",
            state.children.len()
        );
        assert_eq!(
            state.empty_queues,
            state.children.values().filter(|q| q.is_empty()).count()
        );
    }

    #[test]
    fn ancestors_are_every_prefix_up_to_a_slash() {
        assert_eq!(ancestors("/a/b/").collect::<Vec<_>>(), ["", "/", "/a/"]);
        assert_eq!(ancestors("x/").collect::<Vec<_>>(), [""]);
        assert_eq!(ancestors("").count(), 0);
    }

    /// A directory answers from its own queue only while no other
    /// directory is under it, whichever was made first and after a sweep.
    #[test]
    fn the_first_key_under_a_directory_counts_the_directories_under_it() {
        let (mut state, lease, now) = state_with_lease();
        let create = |state: &mut State, key: &str| {
            let dir = parent(key).to_string();
            state
                .create(&Arc::from(key), Arc::default(), lease, &dir, now)
                .unwrap()
                .revision
        };
        let outer = create(&mut state, "/p/k1");
        let inner = create(&mut state, "/p/q/k2"); // made after "/p/"
        assert_eq!(state.first_under("/p/"), Some(outer));
        assert!(state.delete_owned("/p/k1", outer));
        assert_eq!(state.first_under("/p/"), Some(inner));
        assert_eq!(
            state.newest_before("/p/", inner + 1).unwrap().key,
            "/p/q/k2"
        );
        let deep = create(&mut state, "/r/s/t/k"); // made before "/r/"
        let shallow = create(&mut state, "/r/k");
        assert!(state.delete_owned("/r/k", shallow));
        assert_eq!(state.first_under("/r/"), Some(deep));
        assert_eq!(state.first_under("/r/s/"), Some(deep));
        // Many directories emptied: the sweep counts again.
        for i in 0..EMPTY_QUEUES_KEPT + 2 {
            let key = format!("/sweep/{i}/k");
            let revision = create(&mut state, &key);
            assert!(state.delete_owned(&key, revision));
        }
        assert_eq!(state.first_under("/p/"), Some(inner));
        assert_eq!(state.first_under("/r/"), Some(deep));
        assert!(state.delete_owned("/p/q/k2", inner));
        assert_eq!(state.first_under("/p/"), None);
        let later = create(&mut state, "/p/k3");
        assert_eq!(state.first_under("/p/"), Some(later));
        for (name, queue) in &state.children {
            let under = state.queues_under(name).count() - 1;
            assert_eq!(queue.nested, under, "{name}");
        }
    }

    #[test]
    fn a_kept_empty_queue_does_not_change_what_a_range_reads() {
        let (mut state, lease, now) = state_with_lease();
        let gone = state
            .create(&Arc::from("/e/k"), Arc::default(), lease, "/e/", now)
            .unwrap();
        assert!(state.delete_owned("/e/k", gone.revision));
        let nested = state
            .create(
                &Arc::from("/e/n/k"),
                Arc::from(&b"v"[..]),
                lease,
                "/e/n/",
                now,
            )
            .unwrap();
        let range = state.range("/e/", RangeOptions::default());
        let keys: Vec<_> = range.kvs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["/e/n/k"]);
        assert_eq!(range.kvs[0].create_revision, nested.revision);
        assert_eq!(state.first_under("/e/"), Some(nested.revision));
        // Revoking the lease empties the nested queue too.
        assert!(state.revoke(lease));
        assert!(state.range("/e/", RangeOptions::default()).kvs.is_empty());
        assert_eq!(state.first_under("/e/"), None);
    }
}
