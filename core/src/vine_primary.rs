//! vine's `primary/{ns}` key under the vine key layout: vine's `ListMembers`
//! marks as primary the member whose id is that key's value, so a vinesync
//! candidate that wins writes its id there (without a lease, as vine does)
//! and removes it when its term ends, unless someone overwrote it since.
//!
//! Only on etcd: vine processes cannot share the in-process memory store.
//! A process killed while primary leaves the key, as a vine process does;
//! the next winner overwrites it.

use std::time::Duration;

use crate::backend::Backend;
use crate::error::ErrorKind;
use crate::layout::{vine_primary_key, KeyLayout};
use crate::options::Options;

/// How often a winner retries writing the key while etcd is unavailable.
const RETRY: Duration = Duration::from_millis(250);

/// The primary key a candidate maintains, and the id it writes there.
#[derive(Debug, Clone)]
pub(crate) struct VinePrimary {
    key: String,
    id: String,
}

impl VinePrimary {
    /// The key of namespace `ns` under the vine layout; `None` under
    /// vinesync's layout (which keeps no such key).
    pub fn of(options: &Options, namespace: &str, id: &str) -> Option<VinePrimary> {
        (options.layout == KeyLayout::Vine).then(|| VinePrimary {
            key: vine_primary_key(&options.prefix, namespace),
            id: id.to_string(),
        })
    }

    /// Writes the id while the candidate key `own_key` (created at
    /// `revision`) still exists, retrying while etcd is unavailable.
    /// `Ok(Some(rev))`: written at `rev`; `Ok(None)`: the candidacy is gone;
    /// on memory `Some(0)` (nothing to write).
    pub async fn claim(&self, backend: &Backend, own_key: &str, revision: i64) -> Option<i64> {
        let Some(etcd) = backend.as_etcd() else {
            return Some(0);
        };
        loop {
            match etcd
                .put_if_owner(own_key, revision, &self.key, &self.id)
                .await
            {
                Ok(written) => return written,
                Err(error) if error.kind() == ErrorKind::Unavailable => {
                    tracing::debug!(key = %self.key, %error, "writing vine's primary key: retrying");
                    tokio::time::sleep(RETRY).await;
                }
                Err(error) => {
                    // Still the primary by the queue's order (SPEC E2); only
                    // vine's ListMembers misses it until the next winner.
                    tracing::warn!(key = %self.key, %error, "writing vine's primary key failed");
                    return Some(0);
                }
            }
        }
    }

    /// Removes the key if it still holds what `claim` wrote at `written`.
    pub async fn release(&self, backend: &Backend, written: i64) {
        let Some(etcd) = backend.as_etcd() else {
            return;
        };
        if written == 0 {
            return;
        }
        if let Err(error) = etcd.delete_if_unchanged(&self.key, written).await {
            tracing::warn!(key = %self.key, %error, "removing vine's primary key failed; the next winner overwrites it");
        }
    }

    /// At `resign`, before the candidate key `own_key` (created at
    /// `revision`) is deleted: removes the key if it holds our id. While our
    /// key is first in the queue nobody else can have won, so an id equal
    /// to ours is our own write, even one whose answer `claim` never saw.
    pub async fn release_at_resign(&self, backend: &Backend, own_key: &str, revision: i64) {
        let Some(etcd) = backend.as_etcd() else {
            return;
        };
        if let Err(error) = etcd
            .delete_if_owner_and_value(own_key, revision, &self.key, &self.id)
            .await
        {
            tracing::warn!(key = %self.key, %error, "removing vine's primary key failed; the next winner overwrites it");
        }
    }
}
