//! The locks a handle holds (SPEC L3, L7), by lock directory. An entry is
//! never replaced: an `init` that changes the prefix or layout gives an id
//! another directory, and one that moves the handle to another etcd
//! cluster with the same prefix gives the same directory again (on other
//! data, which the cluster id cannot always tell: clusters started alike
//! share it). Each acquisition stays held until `unlock` or close.

use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::Backend;
use crate::fasthash::FastMap;
use crate::mutex::Held;

/// One acquisition and the number of the `insert` that filed it.
struct Filed {
    order: u64,
    held: Arc<Held>,
}

/// A directory's acquisitions: almost always one (no allocation for it).
enum Slot {
    One(Filed),
    Many(Vec<Filed>),
}

impl Slot {
    fn filed(&self) -> &[Filed] {
        match self {
            Slot::One(filed) => std::slice::from_ref(filed),
            Slot::Many(filed) => filed,
        }
    }

    fn push(&mut self, new: Filed) {
        let old = std::mem::replace(self, Slot::Many(Vec::new()));
        *self = Slot::Many(match old {
            Slot::One(filed) => vec![filed, new],
            Slot::Many(mut filed) => {
                filed.push(new);
                filed
            }
        });
    }

    /// Takes out the `i`-th; `true` when the slot is then empty.
    fn take(&mut self, i: usize) -> (Arc<Held>, bool) {
        match self {
            Slot::Many(filed) if filed.len() > 1 => (filed.remove(i).held, false),
            _ => match std::mem::replace(self, Slot::Many(Vec::new())) {
                Slot::One(filed) => (filed.held, true),
                Slot::Many(mut filed) => (filed.remove(i).held, true),
            },
        }
    }
}

#[derive(Default)]
pub(crate) struct HeldTable {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_dir: FastMap<Arc<str>, Slot>,
    inserts: u64,
}

impl Entries {
    /// Takes out the `i`-th acquisition filed under `dir`.
    fn take(&mut self, dir: &str, i: usize) -> Option<Arc<Held>> {
        let slot = self.by_dir.get_mut(dir)?;
        let (held, empty) = slot.take(i);
        if empty {
            self.by_dir.remove(dir);
        }
        Some(held)
    }
}

/// How well an acquisition matches the handle's current backend for
/// `unlock(id)`: taken through this very connection, then on a cluster of
/// the same id, then the one taken last.
fn rank(filed: &Filed, current: &Backend) -> (bool, bool, u64) {
    let backend = filed.held.session.backend();
    (
        backend.store_address() == current.store_address(),
        backend.cluster_id() == current.cluster_id(),
        filed.order,
    )
}

impl HeldTable {
    // Poisoning only follows a panic elsewhere; the table stays consistent.
    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, held: Arc<Held>) {
        let mut entries = self.entries();
        entries.inserts += 1;
        let filed = Filed {
            order: entries.inserts,
            held,
        };
        // One search of the table (the key is a shared name: no copy).
        match entries.by_dir.entry(filed.held.name.dir.clone()) {
            Entry::Occupied(mut slot) => slot.get_mut().push(filed),
            Entry::Vacant(slot) => {
                slot.insert(Slot::One(filed));
            }
        }
    }

    /// Takes out the acquisition `unlock(id)` releases: one in `dir` (the
    /// current options), else one of `id` taken before an `init` changed
    /// them; among several, the best [`rank`] against `current`.
    pub fn take_for_unlock(&self, current: &Backend, dir: &str, id: &str) -> Option<Arc<Held>> {
        let mut entries = self.entries();
        let best = |slot: &Slot| {
            let filed = slot.filed();
            (0..filed.len()).max_by_key(|&i| rank(&filed[i], current))
        };
        if let Some(i) = entries.by_dir.get(dir).and_then(best) {
            return entries.take(dir, i);
        }
        let (dir, i) = entries
            .by_dir
            .iter()
            .flat_map(|(dir, slot)| {
                slot.filed()
                    .iter()
                    .enumerate()
                    .filter(|(_, filed)| *filed.held.name.id == *id)
                    .map(move |(i, filed)| (dir, i, filed))
            })
            .max_by_key(|(_, _, filed)| rank(filed, current))
            .map(|(dir, i, _)| (dir.clone(), i))?;
        entries.take(&dir, i)
    }

    /// Removes `held`; `false` if it was not there (already unlocked by id).
    pub fn forget(&self, held: &Arc<Held>) -> bool {
        let mut entries = self.entries();
        // One search of the table, as on insert.
        let Entry::Occupied(mut slot) = entries.by_dir.entry(held.name.dir.clone()) else {
            return false;
        };
        let Some(i) = slot
            .get()
            .filed()
            .iter()
            .position(|filed| Arc::ptr_eq(&filed.held, held))
        else {
            return false;
        };
        if slot.get_mut().take(i).1 {
            slot.remove();
        }
        true
    }

    /// Empties the table, handing back what it held.
    pub fn drain(&self) -> Vec<Arc<Held>> {
        let mut all = Vec::new();
        for (_, slot) in self.entries().by_dir.drain() {
            match slot {
                Slot::One(filed) => all.push(filed.held),
                Slot::Many(filed) => all.extend(filed.into_iter().map(|f| f.held)),
            }
        }
        all
    }
}
