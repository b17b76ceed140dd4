//! vine's `primary/{ns}` key under the vine key layout: vine's `ListMembers`
//! marks as primary the member whose id is that key's value, so a vinesync
//! candidate that wins writes its id there (without a lease, as vine does).
//!
//! Nobody ever deletes the key, as in vine 1.5.10: vine's `ListMembers`
//! reads `Kvs[0]` of that key unguarded and panics when it is missing while
//! any candidate exists. It stays after the last primary resigns or dies
//! (naming a member that is gone) until the next winner overwrites it.
//!
//! The write is one transaction guarded on our own candidate key's create
//! revision, so a claim that lands late (after `resign` deleted our key, or
//! after our lease expired and a successor won) changes nothing.
//!
//! Only on etcd: vine processes cannot share the in-process memory store.

use crate::backend::Backend;
use crate::layout::{vine_primary_key, KeyLayout};
use crate::options::Options;

/// The primary key a candidate writes when it wins, and the id it writes.
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

    /// Writes the id, in one transaction that applies only while the
    /// candidate key `own_key` still has create revision `revision`. One
    /// attempt, bounded by the request timeout (the caller also races it
    /// against the session's loss and our key's deletion).
    ///
    /// `false`: our key is gone, the candidacy is over. `true`: written, or
    /// the write failed; like vine (`_, _ = Put(...)`), a winner whose write
    /// failed is still the primary by the queue's order (SPEC E2); only
    /// vine's `ListMembers` misses it until the next winner writes the key.
    pub async fn claim(&self, backend: &Backend, own_key: &str, revision: i64) -> bool {
        let Some(etcd) = backend.as_etcd() else {
            return true;
        };
        #[cfg(feature = "test-util")]
        let injected = backend.injector.op_point("vine_primary_claim").await;
        #[cfg(not(feature = "test-util"))]
        let injected = Ok(());
        let written = match injected {
            Ok(()) => {
                etcd.put_if_owner(own_key, revision, &self.key, &self.id)
                    .await
            }
            Err(error) => Err(error),
        };
        match written {
            Ok(written) => written.is_some(),
            Err(error) => {
                tracing::warn!(key = %self.key, %error, "writing vine's primary key failed; primary anyway (as vine)");
                true
            }
        }
    }
}
