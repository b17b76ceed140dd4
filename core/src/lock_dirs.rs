//! Lock ids of a handle, each with its directory, built once per id, and
//! the key name its last clean release left (`key_names.rs`). Every lock
//! and unlock needs its lock's directory; escaping the id, formatting and
//! allocating it costs several times a lookup. The handle clears them when
//! `init` changes the options they are built from.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::fasthash::FastMap;
use crate::key_names::FreeKeyName;
use crate::keys;
use crate::options::Options;

/// At most this many ids are kept; a full table starts again empty.
const MAX_IDS: usize = 1024;

/// One lock id under the handle's options.
#[derive(Debug)]
pub(crate) struct LockName {
    /// The id as given.
    pub id: Arc<str>,
    /// Its directory (`{prefix}/locks/{esc(id)}/`).
    pub dir: Arc<str>,
    /// The key name the next acquisition may write again.
    pub free_key: FreeKeyName,
}

#[derive(Debug, Default)]
pub(crate) struct LockDirs {
    names: Mutex<FastMap<Arc<str>, Arc<LockName>>>,
}

impl LockDirs {
    /// Lock `id` under `options`, which the caller keeps from changing (it
    /// holds the handle's options for reading) until this returns.
    pub fn get(&self, options: &Options, id: &str) -> Arc<LockName> {
        let mut names = self.lock();
        if let Some(name) = names.get(id) {
            return name.clone();
        }
        let name = Arc::new(LockName {
            id: Arc::from(id),
            dir: Arc::from(keys::lock_dir(options, id)),
            free_key: FreeKeyName::default(),
        });
        if names.len() >= MAX_IDS {
            names.clear();
        }
        names.insert(name.id.clone(), name.clone());
        name
    }

    /// Forgets every id (the options they were built from change).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, FastMap<Arc<str>, Arc<LockName>>> {
        // A panic elsewhere cannot leave a map of names half-written.
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_built_once_per_id_and_again_after_clear() {
        let dirs = LockDirs::default();
        let options = Options::new().prefix("/a");
        let first = dirs.get(&options, "x/y");
        assert_eq!(&*first.dir, keys::lock_dir(&options, "x/y"));
        assert_eq!(&*first.id, "x/y");
        assert!(Arc::ptr_eq(&first, &dirs.get(&options, "x/y")));
        assert_ne!(&*dirs.get(&options, "z").dir, &*first.dir);
        dirs.clear();
        let other = Options::new().prefix("/b");
        assert_eq!(&*dirs.get(&other, "x/y").dir, keys::lock_dir(&other, "x/y"));
    }

    #[test]
    fn a_full_table_starts_again() {
        let dirs = LockDirs::default();
        let options = Options::new();
        for i in 0..MAX_IDS + 5 {
            let id = i.to_string();
            assert_eq!(&*dirs.get(&options, &id).dir, keys::lock_dir(&options, &id));
        }
        assert!(dirs.lock().len() <= MAX_IDS);
    }
}
