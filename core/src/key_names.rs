//! Lock key names a session may use again.
//!
//! Every acquisition writes a key `{dir}{lease:x}_{seq:x}`. etcd keeps an
//! index entry for every key name it has seen until it compacts, and each
//! range or compare over the lock's directory walks them all: with a new
//! name per acquisition, a lock taken again and again gets slower with
//! every acquisition until the next compaction (measured on a default etcd
//! 3.4, without auto-compaction: about 0.3 ms more per lock+unlock for
//! every 1000 earlier acquisitions). Using the same name again keeps one
//! entry per name, as etcd's own `concurrency.Mutex` does with its one key
//! per session.
//!
//! A name goes back into the pool only when nothing can still write it: its
//! key was created and deleted by requests that were each answered on their
//! first send (a request resent after a lost answer may still take effect
//! later, and then it would write over the next acquisition of that name),
//! and the lock was not lost. Names carry the session's lease, so a new
//! session never sees an old one's names.

use std::sync::{Arc, Mutex};

use crate::fasthash::FastMap;

/// At most this many lock directories keep a name (one each); beyond it a
/// released name is simply not kept.
const MAX_DIRS: usize = 1024;

/// One reusable key per lock directory, kept whole and shared: taking it
/// again costs no formatting and no copy.
#[derive(Debug, Default)]
pub(crate) struct KeyNames {
    free: Mutex<FastMap<Arc<str>, Arc<str>>>,
}

/// How the writes of one held key went, to decide whether its name may be
/// used again (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writes {
    /// The create was sent more than once.
    pub create_resent: bool,
    /// The delete was answered, found our key and deleted it.
    pub deleted_ours: bool,
    /// The delete was sent more than once.
    pub delete_resent: bool,
    /// The lock was lost (lease gone, key deleted by someone else) before
    /// or during the release.
    pub lost: bool,
}

impl Writes {
    /// Whether no write of the name can still be pending.
    pub fn settled(self) -> bool {
        self.deleted_ours && !self.create_resent && !self.delete_resent && !self.lost
    }
}

impl KeyNames {
    /// A key released under `dir`, taken out of the pool.
    pub fn take(&self, dir: &str) -> Option<Arc<str>> {
        self.lock().remove(dir)
    }

    /// After the release of `key` under `dir`: puts its name back (one is
    /// kept per directory) if `writes` settled it. Returns whether it did.
    pub fn released(&self, dir: &Arc<str>, key: &Arc<str>, writes: Writes) -> bool {
        if !writes.settled() {
            return false;
        }
        let mut free = self.lock();
        if free.len() >= MAX_DIRS && !free.contains_key(dir) {
            return false;
        }
        free.insert(dir.clone(), key.clone());
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FastMap<Arc<str>, Arc<str>>> {
        // A panic elsewhere cannot leave a map of names inconsistent.
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CLEAN: Writes = Writes {
        create_resent: false,
        deleted_ours: true,
        delete_resent: false,
        lost: false,
    };

    #[test]
    fn only_a_release_with_every_write_answered_once_gives_a_name_back() {
        let clean = CLEAN;
        let names = KeyNames::default();
        let dir: Arc<str> = Arc::from("/l/x/");
        assert!(names.released(&dir, &Arc::from("/l/x/1_1"), clean));
        assert_eq!(names.take(&dir).as_deref(), Some("/l/x/1_1"));
        for unsettled in [
            Writes {
                create_resent: true,
                ..clean
            },
            Writes {
                deleted_ours: false,
                ..clean
            },
            Writes {
                delete_resent: true,
                ..clean
            },
            Writes {
                lost: true,
                ..clean
            },
        ] {
            assert!(
                !names.released(&dir, &Arc::from("/l/x/1_2"), unsettled),
                "{unsettled:?}"
            );
            assert_eq!(names.take(&dir), None, "{unsettled:?}");
        }
    }

    #[test]
    fn a_name_is_handed_out_once_per_release_and_per_directory() {
        let names = KeyNames::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("/l/a/"), Arc::from("/l/b/"));
        assert_eq!(names.take(&a), None);
        names.released(&a, &Arc::from("/l/a/1_7"), CLEAN);
        assert_eq!(names.take(&b), None, "another lock's name");
        assert_eq!(names.take(&a).as_deref(), Some("/l/a/1_7"));
        assert_eq!(names.take(&a), None, "handed out twice");
        for i in 0..MAX_DIRS + 10 {
            names.released(
                &Arc::from(format!("/l/{i}/")),
                &Arc::from(format!("/l/{i}/1_1")),
                CLEAN,
            );
        }
        assert_eq!(names.lock().len(), MAX_DIRS);
    }
}
