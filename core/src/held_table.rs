//! The locks a handle holds (SPEC L3, L7), filed by lock directory *and*
//! store: an `init` that changes the prefix or layout gives an id another
//! directory, and one that moves the handle to another etcd cluster with
//! the same prefix gives the same directory on other data. Either way the
//! acquisitions made before stay held, each under its own entry, until
//! `unlock` or close releases them.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::fasthash::FastMap;
use crate::mutex::Held;

/// Where an acquisition is filed.
#[derive(Clone, PartialEq, Eq, Hash)]
struct HeldKey {
    /// The data it was taken on ([`crate::backend::Backend::store_identity`]:
    /// an etcd cluster's id, or a memory store's address, which the
    /// entry's session keeps allocated).
    store: u64,
    dir: Arc<str>,
}

impl HeldKey {
    fn of(held: &Held) -> HeldKey {
        HeldKey {
            store: held.session.backend().store_identity(),
            dir: held.name.dir.clone(),
        }
    }
}

#[derive(Default)]
pub(crate) struct HeldTable {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Each acquisition with the number of the `insert` that filed it.
    held: FastMap<HeldKey, (u64, Arc<Held>)>,
    inserts: u64,
}

impl HeldTable {
    // Poisoning only follows a panic elsewhere; the table stays consistent.
    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, held: Arc<Held>) {
        let mut entries = self.entries();
        entries.inserts += 1;
        let order = entries.inserts;
        entries.held.insert(HeldKey::of(&held), (order, held));
    }

    /// Takes out the acquisition `unlock(id)` releases: the one in `dir` on
    /// `store` (the current options), else the one of `id` taken last
    /// before an `init` changed them, preferring one on the current store.
    pub fn take_for_unlock(&self, store: u64, dir: &Arc<str>, id: &str) -> Option<Arc<Held>> {
        let entries = &mut self.entries().held;
        let current = HeldKey {
            store,
            dir: dir.clone(),
        };
        if let Some((_, held)) = entries.remove(&current) {
            return Some(held);
        }
        let older = entries
            .iter()
            .filter(|(_, (_, held))| *held.name.id == *id)
            .max_by_key(|(key, (order, _))| (key.store == store, *order))
            .map(|(key, _)| key.clone())?;
        entries.remove(&older).map(|(_, held)| held)
    }

    /// Removes `held`; `false` if it was not there (already unlocked by id).
    pub fn forget(&self, held: &Arc<Held>) -> bool {
        let entries = &mut self.entries().held;
        // One search of the table: take the entry out, and put it back when
        // it is another acquisition of the same lock (unlocked by id, then
        // taken again).
        match entries.remove_entry(&HeldKey::of(held)) {
            Some((_, (_, current))) if Arc::ptr_eq(&current, held) => true,
            Some((key, entry)) => {
                entries.insert(key, entry);
                false
            }
            None => false,
        }
    }

    /// Empties the table, handing back what it held.
    pub fn drain(&self) -> Vec<Arc<Held>> {
        self.entries()
            .held
            .drain()
            .map(|(_, (_, held))| held)
            .collect()
    }
}
