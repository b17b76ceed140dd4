//! Lock directories by lock id, built once per id. Every lock and unlock
//! needs its lock's directory; escaping the id, formatting and allocating
//! it costs several times a lookup. The handle clears them when `init`
//! changes the options they are built from.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::fasthash::FastMap;
use crate::keys;
use crate::options::Options;

/// At most this many ids are kept; a full table starts again empty.
const MAX_IDS: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct LockDirs {
    dirs: Mutex<FastMap<Box<str>, Arc<str>>>,
}

impl LockDirs {
    /// The directory of lock `id` under `options`, which the caller keeps
    /// from changing (it holds the handle's options for reading) until
    /// this returns.
    pub fn get(&self, options: &Options, id: &str) -> Arc<str> {
        let mut dirs = self.lock();
        if let Some(dir) = dirs.get(id) {
            return dir.clone();
        }
        let dir: Arc<str> = Arc::from(keys::lock_dir(options, id));
        if dirs.len() >= MAX_IDS {
            dirs.clear();
        }
        dirs.insert(Box::from(id), dir.clone());
        dir
    }

    /// Forgets every directory (the options they were built from change).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, FastMap<Box<str>, Arc<str>>> {
        // A panic elsewhere cannot leave a map of names half-written.
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
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
        assert_eq!(&*first, keys::lock_dir(&options, "x/y"));
        assert!(Arc::ptr_eq(&first, &dirs.get(&options, "x/y")));
        assert_ne!(&*dirs.get(&options, "z"), &*first);
        dirs.clear();
        let other = Options::new().prefix("/b");
        assert_eq!(&*dirs.get(&other, "x/y"), keys::lock_dir(&other, "x/y"));
    }

    #[test]
    fn a_full_table_starts_again() {
        let dirs = LockDirs::default();
        let options = Options::new();
        for i in 0..MAX_IDS + 5 {
            let id = i.to_string();
            assert_eq!(&*dirs.get(&options, &id), keys::lock_dir(&options, &id));
        }
        assert!(dirs.lock().len() <= MAX_IDS);
    }
}
