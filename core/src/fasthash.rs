//! The hash tables of the crate's internal state (sessions, held locks, the
//! memory store's keys and watchers) use foldhash instead of the standard
//! SipHash: a few nanoseconds a key instead of tens, on the lock and unlock
//! path. Its per-process random seed keeps lock ids chosen by a caller's
//! users from being crafted to collide.

/// A `HashMap` with foldhash's fast, randomly seeded hasher.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
