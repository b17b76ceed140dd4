//! Directories whose last create found other keys in them. A create first
//! tries "put if the directory is empty" (the cheapest request for a free
//! lock), but etcd evaluates a compare over a prefix by reading every key
//! under it: in a queue of 1000 waiters that compare costs as much as the
//! range that finds our predecessor, and etcd applies writes one at a time,
//! so every create then delays every other write, the holder's release
//! included. A directory found busy is written with the queued request
//! directly until a create finds it free again.

use std::collections::HashSet;
use std::sync::Mutex;

/// How many directories are remembered; past that the set starts over
/// (a forgotten directory only costs one more compare).
const REMEMBERED: usize = 1024;

#[derive(Default)]
pub(crate) struct BusyDirs {
    dirs: Mutex<HashSet<String, foldhash::fast::RandomState>>,
}

impl BusyDirs {
    fn dirs(&self) -> std::sync::MutexGuard<'_, HashSet<String, foldhash::fast::RandomState>> {
        // A set of hints: whatever a panic left in it is still usable.
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the last create under `dir` found other keys.
    pub fn is_busy(&self, dir: &str) -> bool {
        self.dirs().contains(dir)
    }

    /// Notes what a create under `dir` found.
    pub fn note(&self, dir: &str, busy: bool) {
        let mut dirs = self.dirs();
        if !busy {
            dirs.remove(dir);
        } else if !dirs.contains(dir) {
            if dirs.len() >= REMEMBERED {
                dirs.clear();
            }
            dirs.insert(dir.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_busy_dirs_until_found_free_and_stays_bounded() {
        let busy = BusyDirs::default();
        assert!(!busy.is_busy("/l/a/"));
        busy.note("/l/a/", true);
        assert!(busy.is_busy("/l/a/"));
        busy.note("/l/a/", false);
        assert!(!busy.is_busy("/l/a/"));
        for i in 0..3 * REMEMBERED {
            busy.note(&format!("/l/{i}/"), true);
        }
        assert!(busy.dirs().len() <= REMEMBERED);
    }
}
