//! Read-only lock inspection: who holds a lock and who waits for it, read
//! from the key layout (`{prefix}/locks/{esc(id)}/{lease:x}_{seq:x}`, the
//! lowest create revision holds) and the holder value each key carries.
//!
//! Keys written by other tools (e.g. `etcdctl lock {prefix}/locks/ID`) are
//! listed too; their value is not our JSON, so host, pid and handle are
//! unknown and `value` shows what they wrote.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Result;
use crate::keys;
use crate::options::check_text;
use crate::store::{KeyValue, RangeOptions, Store};

/// One lock: its holder and its waiters in the order they will get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LockInfo {
    /// The lock id as given to `lock`.
    pub id: String,
    /// The acquisition holding the lock (`None`: nobody holds it).
    pub holder: Option<LockEntry>,
    /// The acquisitions waiting, next one first.
    pub waiters: Vec<LockEntry>,
}

/// One acquisition (held or waiting) of a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LockEntry {
    /// The key it wrote.
    pub key: String,
    /// Its create revision: the fencing token it has or will have.
    pub fencing_token: u64,
    /// The lease its key is attached to.
    pub lease: i64,
    /// Host name of the process, when the value is vinesync's.
    pub host: Option<String>,
    /// Process id, when the value is vinesync's.
    pub pid: Option<u32>,
    /// The vinesync handle's id, when the value is vinesync's.
    pub handle: Option<String>,
    /// When the key was written (Unix milliseconds): since when this
    /// acquisition queued — for the holder, since it asked for the lock.
    pub since_ms: Option<u64>,
    /// The raw value when it is not vinesync's (lossy UTF-8; empty for
    /// `etcdctl lock`).
    pub value: Option<String>,
}

/// The holder value as [`keys::HolderInfo`] writes it.
#[derive(Deserialize)]
struct HolderValue {
    host: String,
    pid: u32,
    handle: String,
    #[serde(default)]
    since_ms: Option<u64>,
}

impl LockEntry {
    fn from_kv(kv: KeyValue) -> Self {
        let ours = kv.value.first() == Some(&b'{');
        let parsed = ours
            .then(|| serde_json::from_slice::<HolderValue>(&kv.value).ok())
            .flatten();
        let fencing_token = u64::try_from(kv.create_revision).unwrap_or(0);
        match parsed {
            Some(v) => LockEntry {
                key: kv.key,
                fencing_token,
                lease: kv.lease,
                host: Some(v.host),
                pid: Some(v.pid),
                handle: Some(v.handle),
                since_ms: v.since_ms,
                value: None,
            },
            None => LockEntry {
                value: Some(String::from_utf8_lossy(&kv.value).into_owned()),
                key: kv.key,
                fencing_token,
                lease: kv.lease,
                host: None,
                pid: None,
                handle: None,
                since_ms: None,
            },
        }
    }
}

impl LockInfo {
    /// Builds a lock from its keys, oldest first.
    fn from_keys(id: String, kvs: Vec<KeyValue>) -> Self {
        let mut entries = kvs.into_iter().map(LockEntry::from_kv);
        LockInfo {
            id,
            holder: entries.next(),
            waiters: entries.collect(),
        }
    }
}

/// Undoes [`keys::esc`]. An id written by another tool may hold any `%`
/// sequence; what is not `%25` or `%2F` is kept as it is.
fn unesc(escaped: &str) -> String {
    escaped.replace("%2F", "/").replace("%25", "%")
}

impl Client {
    /// The holder and the waiters of lock `id` under this handle's prefix,
    /// as one consistent read. Writes nothing.
    ///
    /// Cancel-safe: a read.
    pub async fn lock_info(&self, id: &str) -> Result<LockInfo> {
        self.check_open()?;
        check_text("lock id", id)?;
        let options = self.options();
        crate::layout::check_vine_lock_id(options.layout, &options.prefix, id)?;
        let dir = keys::lock_dir(&options, id);
        let range = self.backend().range(&dir, RangeOptions::default()).await?;
        Ok(LockInfo::from_keys(id.to_string(), range.kvs))
    }

    /// Every lock under this handle's prefix that has a holder, sorted by
    /// id. Writes nothing.
    ///
    /// Cancel-safe: a read.
    ///
    /// Under [`crate::KeyLayout::Vine`] it is `InvalidArgument`: vine's
    /// keys do not tell a lock id from an election (use `lock_info`).
    pub async fn locks(&self) -> Result<Vec<LockInfo>> {
        self.check_open()?;
        let options = self.options();
        if options.layout == crate::KeyLayout::Vine {
            return Err(crate::Error::invalid(
                "locks() cannot list locks under the vine key layout: vine's keys do not name their lock ids",
            ));
        }
        let root = format!("{}/locks/", options.trimmed_prefix());
        let range = self.backend().range(&root, RangeOptions::default()).await?;
        // Keys arrive oldest first; grouping keeps that order per lock.
        let mut by_id: std::collections::BTreeMap<String, Vec<KeyValue>> = Default::default();
        for kv in range.kvs {
            let Some(rest) = kv.key.strip_prefix(&root) else {
                continue;
            };
            let Some((escaped, _)) = rest.split_once('/') else {
                continue; // a key directly under locks/ is not a lock waiter
            };
            by_id.entry(unesc(escaped)).or_default().push(kv);
        }
        Ok(by_id
            .into_iter()
            .map(|(id, kvs)| LockInfo::from_keys(id, kvs))
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn unesc_reverses_esc() {
        for id in ["lock1", "a/b", "a%2Fb", "%", "x/%/y"] {
            assert_eq!(unesc(&keys::esc(id)), id);
        }
    }

    fn kv(key: &str, value: &[u8], rev: i64) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: value.to_vec(),
            create_revision: rev,
            mod_revision: rev,
            lease: 7,
        }
    }

    #[test]
    fn first_key_holds_and_foreign_values_are_kept() {
        let ours = br#"{"host":"h","pid":42,"handle":"u"}"#;
        let info = LockInfo::from_keys(
            "l".into(),
            vec![kv("/p/locks/l/7_0", ours, 5), kv("/p/locks/l/694d", b"", 9)],
        );
        let holder = info.holder.unwrap();
        assert_eq!(holder.pid, Some(42));
        assert_eq!(holder.fencing_token, 5);
        assert_eq!(info.waiters.len(), 1);
        assert_eq!(info.waiters[0].value.as_deref(), Some(""));
        assert_eq!(info.waiters[0].host, None);
        // A JSON array is not our value.
        let odd = LockEntry::from_kv(kv("/k", br#"["h",1,"u"]"#, 1));
        assert_eq!(odd.pid, None);
    }
}
