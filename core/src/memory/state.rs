//! The memory store's data: keys, leases, a revision counter, a bounded
//! history for watches that start in the past, and the live watchers.
//! Everything here runs under one mutex, in short critical sections.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::error::{Error, ErrorKind, Result};
use crate::store::{Created, KeyValue, LeaseId, Range, RangeOptions, WatchEvent};

/// How many past events a watch can start from; older starts are told
/// "compacted", as etcd does, and the recipes re-read.
pub(super) const HISTORY_LIMIT: usize = 8192;

struct Lease {
    ttl: i64,
    deadline: Instant,
    keys: HashSet<String>,
}

struct Watcher {
    id: u64,
    key: String,
    prefix: bool,
    tx: UnboundedSender<WatchEvent>,
}

#[derive(Default)]
pub(super) struct State {
    revision: i64,
    /// Events before this revision are no longer in `history`.
    compacted: i64,
    kvs: BTreeMap<String, KeyValue>,
    leases: HashMap<LeaseId, Lease>,
    next_lease: LeaseId,
    history: VecDeque<(i64, WatchEvent)>,
    watchers: Vec<Watcher>,
    next_watcher: u64,
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

    pub fn grant(&mut self, ttl: i64, now: Instant) -> LeaseId {
        self.next_lease += 1;
        let id = self.next_lease;
        self.leases.insert(
            id,
            Lease {
                ttl,
                deadline: now + secs(ttl),
                keys: HashSet::new(),
            },
        );
        id
    }

    /// Renews `lease`; returns its TTL, or 0 when it is gone.
    pub fn keep_alive(&mut self, lease: LeaseId, now: Instant) -> i64 {
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
            let mut keys: Vec<_> = l.keys.into_iter().collect();
            keys.sort();
            for key in keys {
                self.kvs.remove(&key);
                let rev = self.revision;
                self.emit(WatchEvent::Delete { key, revision: rev }, rev);
            }
        }
        true
    }

    /// Revokes every lease whose deadline has passed; returns the earliest
    /// deadline still pending.
    pub fn expire(&mut self, now: Instant) -> Option<Instant> {
        let earliest = self.leases.values().map(|l| l.deadline).min();
        if earliest.is_none_or(|d| d > now) {
            return earliest;
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
        self.leases.values().map(|l| l.deadline).min()
    }

    pub fn lease_ids(&self) -> Vec<LeaseId> {
        self.leases.keys().copied().collect()
    }

    pub fn create(
        &mut self,
        key: &str,
        value: Vec<u8>,
        lease: LeaseId,
        dir: &str,
        now: Instant,
    ) -> Result<Created> {
        match self.leases.get(&lease) {
            Some(l) if l.deadline > now => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Lost,
                    format!("lease {lease:x} not found (expired or revoked)"),
                ))
            }
        }
        if self.kvs.contains_key(key) {
            return Err(Error::internal(format!("key {key:?} already exists")));
        }
        self.revision += 1;
        let rev = self.revision;
        let kv = KeyValue {
            key: key.to_string(),
            value,
            create_revision: rev,
            mod_revision: rev,
            lease,
        };
        if let Some(l) = self.leases.get_mut(&lease) {
            l.keys.insert(key.to_string());
        }
        self.kvs.insert(key.to_string(), kv.clone());
        self.emit(WatchEvent::Put(kv), rev);
        let first = self.first_under(dir);
        Ok(Created {
            revision: rev,
            first,
        })
    }

    fn first_under(&self, dir: &str) -> Option<KeyValue> {
        self.under(dir).min_by_key(|kv| kv.create_revision).cloned()
    }

    fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a KeyValue> + 'a {
        self.kvs
            .range(dir.to_string()..)
            .take_while(move |(k, _)| k.starts_with(dir))
            .map(|(_, kv)| kv)
    }

    pub fn get(&self, key: &str) -> Option<KeyValue> {
        self.kvs.get(key).cloned()
    }

    pub fn range(&self, dir: &str, options: RangeOptions) -> Range {
        let mut kvs: Vec<KeyValue> = self
            .under(dir)
            .filter(|kv| {
                options
                    .max_create_revision
                    .is_none_or(|max| kv.create_revision <= max)
            })
            .cloned()
            .collect();
        kvs.sort_by_key(|kv| kv.create_revision);
        if options.descending {
            kvs.reverse();
        }
        if let Some(limit) = options.limit {
            kvs.truncate(limit);
        }
        Range {
            kvs,
            revision: self.revision,
        }
    }

    pub fn delete_owned(&mut self, key: &str, create_revision: i64) -> bool {
        match self.kvs.get(key) {
            Some(kv) if kv.create_revision == create_revision => {}
            _ => return false,
        }
        if let Some(kv) = self.kvs.remove(key) {
            if let Some(l) = self.leases.get_mut(&kv.lease) {
                l.keys.remove(key);
            }
        }
        self.revision += 1;
        let rev = self.revision;
        self.emit(
            WatchEvent::Delete {
                key: key.to_string(),
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
        for (rev, event) in &self.history {
            if *rev >= from_revision && matches(key, prefix, event_key(event)) {
                // A closed receiver just means the watch is already gone.
                let _ = tx.send(event.clone());
            }
        }
        self.next_watcher += 1;
        let id = self.next_watcher;
        self.watchers.push(Watcher {
            id,
            key: key.to_string(),
            prefix,
            tx,
        });
        Ok(id)
    }

    pub fn unwatch(&mut self, id: u64) {
        self.watchers.retain(|w| w.id != id);
    }

    /// Drops history older than `revision`, as `etcdctl compact` does.
    pub fn compact(&mut self, revision: i64) {
        while self.history.front().is_some_and(|(rev, _)| *rev < revision) {
            self.history.pop_front();
        }
        self.compacted = self.compacted.max(revision);
    }

    fn emit(&mut self, event: WatchEvent, rev: i64) {
        let key = event_key(&event);
        self.watchers.retain(|w| {
            if matches(&w.key, w.prefix, key) {
                w.tx.send(event.clone()).is_ok()
            } else {
                !w.tx.is_closed()
            }
        });
        self.history.push_back((rev, event));
        if self.history.len() > HISTORY_LIMIT {
            if let Some((old, _)) = self.history.pop_front() {
                self.compacted = old + 1;
            }
        }
    }
}

fn event_key(event: &WatchEvent) -> &str {
    match event {
        WatchEvent::Put(kv) => &kv.key,
        WatchEvent::Delete { key, .. } => key,
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
