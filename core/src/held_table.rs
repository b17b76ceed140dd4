//! The locks a handle holds (SPEC L3, L7), filed by lock directory *and*
//! store: an `init` that changes the prefix or layout gives an id another
//! directory, and one that moves the handle to another cluster with the
//! same prefix gives the same directory on another store. Either way the
//! acquisitions made before stay held, each under its own entry, until
//! `unlock` or close releases them.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::fasthash::FastMap;
use crate::mutex::Held;

/// Where an acquisition is filed.
#[derive(Clone, PartialEq, Eq, Hash)]
struct HeldKey {
    /// The store it was taken on ([`crate::backend::Backend::store_identity`];
    /// the entry's session keeps that store alive, so no other store can
    /// have the same identity meanwhile).
    store: usize,
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
    entries: Mutex<FastMap<HeldKey, Arc<Held>>>,
}

impl HeldTable {
    // Poisoning only follows a panic elsewhere; the table stays consistent.
    fn entries(&self) -> MutexGuard<'_, FastMap<HeldKey, Arc<Held>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, held: Arc<Held>) {
        self.entries().insert(HeldKey::of(&held), held);
    }

    /// Takes out the acquisition `unlock(id)` releases: the one in `dir` on
    /// `store` (the current options), else the newest of `id` taken before
    /// an `init` changed them, preferring one on the current store.
    pub fn take_for_unlock(&self, store: usize, dir: &Arc<str>, id: &str) -> Option<Arc<Held>> {
        let mut entries = self.entries();
        let current = HeldKey {
            store,
            dir: dir.clone(),
        };
        if let Some(held) = entries.remove(&current) {
            return Some(held);
        }
        let older = entries
            .iter()
            .filter(|(_, held)| *held.name.id == *id)
            .max_by_key(|(key, held)| (key.store == store, held.revision))
            .map(|(key, _)| key.clone())?;
        entries.remove(&older)
    }

    /// Removes `held`; `false` if it was not there (already unlocked by id).
    pub fn forget(&self, held: &Arc<Held>) -> bool {
        let mut entries = self.entries();
        // One search of the table: take the entry out, and put it back when
        // it is another acquisition of the same lock (unlocked by id, then
        // taken again).
        match entries.remove_entry(&HeldKey::of(held)) {
            Some((_, current)) if Arc::ptr_eq(&current, held) => true,
            Some((key, current)) => {
                entries.insert(key, current);
                false
            }
            None => false,
        }
    }

    /// Empties the table, handing back what it held.
    pub fn drain(&self) -> Vec<Arc<Held>> {
        self.entries().drain().map(|(_, held)| held).collect()
    }
}
