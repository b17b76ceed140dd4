//! The keys of one directory in create-revision order: a lock's or an
//! election's queue. Keys arrive with the store's newest revision, so a
//! create appends and a release of the first key pops it; a ring buffer does
//! both without allocating once it has grown (a lock taken and released again
//! and again reuses the same slots). A key leaving from the middle (a waiter
//! that gave up) shifts the shorter side.

use std::collections::vec_deque::{Iter, VecDeque};

use super::state::Key;

#[derive(Default)]
pub(super) struct Queue {
    /// (create revision, key), ascending by revision.
    entries: VecDeque<(i64, Key)>,
    /// How many other directories the store indexes under this one (kept
    /// by `State`): with none, this queue alone answers for the directory.
    pub nested: usize,
}

impl Queue {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds `key`, created at `revision`, in its place (the back for a new
    /// key: no revision is newer); replaces the key of the same revision,
    /// as a map would (revisions are unique, so that does not happen).
    pub fn insert(&mut self, revision: i64, key: Key) {
        match self.entries.back() {
            Some((last, _)) if *last >= revision => {
                let at = self.position(revision);
                match self.entries.get_mut(at) {
                    Some(entry) if entry.0 == revision => entry.1 = key,
                    _ => self.entries.insert(at, (revision, key)),
                }
            }
            _ => self.entries.push_back((revision, key)),
        }
    }

    /// Removes the key created at `revision`; whether it was there.
    pub fn remove(&mut self, revision: i64) -> bool {
        // The usual case, the first key released, needs no search.
        if self
            .entries
            .front()
            .is_some_and(|(first, _)| *first == revision)
        {
            self.entries.pop_front();
            return true;
        }
        let at = self.position(revision);
        if self
            .entries
            .get(at)
            .is_some_and(|(rev, _)| *rev == revision)
        {
            self.entries.remove(at);
            true
        } else {
            false
        }
    }

    /// The lowest create revision (the first key's).
    pub fn first_revision(&self) -> Option<i64> {
        self.entries.front().map(|(rev, _)| *rev)
    }

    /// The newest key created before `revision`.
    pub fn newest_before(&self, revision: i64) -> Option<&(i64, Key)> {
        self.up_to(revision.saturating_sub(1)).next_back()
    }

    /// The keys created at or before `max`, oldest first.
    pub fn up_to(&self, max: i64) -> Iter<'_, (i64, Key)> {
        let end = self.entries.partition_point(|(rev, _)| *rev <= max);
        self.entries.range(..end)
    }

    /// The index of the first entry created at or after `revision`.
    fn position(&self, revision: i64) -> usize {
        self.entries.partition_point(|(rev, _)| *rev < revision)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn revisions(queue: &Queue) -> Vec<i64> {
        queue.up_to(i64::MAX).map(|(rev, _)| *rev).collect()
    }

    #[test]
    fn keeps_revision_order_whatever_the_order_of_changes() {
        let mut queue = Queue::default();
        for rev in [3, 5, 9] {
            queue.insert(rev, Key::from(format!("k{rev}")));
        }
        queue.insert(4, Key::from("k4")); // not the newest: in its place
        assert_eq!(revisions(&queue), [3, 4, 5, 9]);
        queue.insert(5, Key::from("k5'")); // the same revision: replaced
        assert_eq!(revisions(&queue), [3, 4, 5, 9]);
        assert_eq!(&*queue.newest_before(9).unwrap().1, "k5'");
        queue.insert(i64::MAX, Key::from("last"));
        assert_eq!(queue.up_to(i64::MAX).count(), 5);
        assert!(queue.remove(i64::MAX));
        assert!(queue.remove(5)); // from the middle
        assert!(!queue.remove(5));
        assert!(!queue.remove(6)); // never there
        assert!(queue.remove(3)); // the first
        assert_eq!(revisions(&queue), [4, 9]);
        assert_eq!(queue.first_revision(), Some(4));
        assert_eq!(queue.newest_before(9).map(|(rev, _)| *rev), Some(4));
        assert_eq!(queue.newest_before(4), None);
        assert_eq!(&*queue.newest_before(10).unwrap().1, "k9");
        assert_eq!(queue.up_to(8).count(), 1);
        assert_eq!(queue.up_to(9).count(), 2);
        assert!(queue.remove(9) && queue.remove(4) && queue.is_empty());
        assert_eq!(queue.first_revision(), None);
    }
}
