//! The lock key name a lock may use again.
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
//! A name is kept for the next acquisition only when nothing can still
//! write it: its key was created and deleted by requests that were each
//! answered on their first send (a request resent after a lost answer may
//! still take effect later, and then it would write over the next
//! acquisition of that name), and the lock was not lost. Each lock id of a
//! handle keeps one name, with its directory (`lock_dirs.rs`: no table to
//! search); names carry their session's lease and are handed out only to
//! acquisitions on that lease, so a new session never sees an old one's.

use std::sync::{Arc, Mutex};

use crate::store::LeaseId;

/// The name a lock's last clean release left, kept whole and shared: taking
/// it again costs no formatting and no copy.
#[derive(Debug, Default)]
pub(crate) struct FreeKeyName {
    slot: Mutex<Option<(LeaseId, Arc<str>)>>,
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

impl FreeKeyName {
    /// The kept name, taken out, if it belongs to `lease`.
    pub fn take(&self, lease: LeaseId) -> Option<Arc<str>> {
        let mut slot = self.lock();
        match slot.take() {
            Some((owner, key)) if owner == lease => Some(key),
            other => {
                *slot = other;
                None
            }
        }
    }

    /// After the release of `key` (written with `lease`): keeps its name,
    /// in place of any other, if `writes` settled it. Returns whether it
    /// did.
    pub fn released(&self, lease: LeaseId, key: &Arc<str>, writes: Writes) -> bool {
        if !writes.settled() {
            return false;
        }
        *self.lock() = Some((lease, key.clone()));
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(LeaseId, Arc<str>)>> {
        // A panic elsewhere cannot leave an optional name inconsistent.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
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
    fn only_a_release_with_every_write_answered_once_keeps_the_name() {
        let clean = CLEAN;
        let name = FreeKeyName::default();
        assert!(name.released(1, &Arc::from("/l/x/1_1"), clean));
        assert_eq!(name.take(1).as_deref(), Some("/l/x/1_1"));
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
                !name.released(1, &Arc::from("/l/x/1_2"), unsettled),
                "{unsettled:?}"
            );
            assert_eq!(name.take(1), None, "{unsettled:?}");
        }
    }

    #[test]
    fn a_name_is_handed_out_once_and_only_to_its_lease() {
        let name = FreeKeyName::default();
        assert_eq!(name.take(1), None);
        name.released(1, &Arc::from("/l/a/1_7"), CLEAN);
        assert_eq!(name.take(2), None, "another session's name");
        assert_eq!(name.take(1).as_deref(), Some("/l/a/1_7"));
        assert_eq!(name.take(1), None, "handed out twice");
        // The newest release replaces a kept name.
        name.released(1, &Arc::from("/l/a/1_7"), CLEAN);
        name.released(2, &Arc::from("/l/a/2_1"), CLEAN);
        assert_eq!(name.take(1), None);
        assert_eq!(name.take(2).as_deref(), Some("/l/a/2_1"));
    }
}
