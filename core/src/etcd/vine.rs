//! The two writes of vine's `primary/{ns}` key (vine layout only; see
//! `vine_primary.rs`): guarded so a candidate that is no longer one never
//! writes it, and removed only while it is still what we wrote.

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::EtcdStore;
use crate::error::Result;

impl EtcdStore {
    /// Puts `value` at `key` without a lease (as vine does) only while
    /// `owner_key` still has create revision `owner_revision`. Returns the
    /// revision of the put, `None` when the owner key is gone.
    pub(crate) async fn put_if_owner(
        &self,
        owner_key: &str,
        owner_revision: i64,
        key: &str,
        value: &str,
    ) -> Result<Option<i64>> {
        let put = TxnOp::put(key, value, None);
        let response = self
            .txn_if_owner(owner_key, owner_revision, vec![put])
            .await?;
        Ok(response.map(|r| r.header().map_or(0, |h| h.revision())))
    }

    /// Deletes `key` only if its last write is at `mod_revision` (nobody
    /// overwrote it since). Returns whether it deleted.
    pub(crate) async fn delete_if_unchanged(&self, key: &str, mod_revision: i64) -> Result<bool> {
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, mod_revision)])
            .and_then([TxnOp::delete(key, None)]);
        let kv = self.client.kv_client();
        let response = self
            .retry(
                || format!("deleting {key:?}"),
                || {
                    let (mut kv, txn) = (kv.clone(), txn.clone());
                    async move { kv.txn(txn).await }
                },
            )
            .await?;
        Ok(response.succeeded())
    }

    /// Deletes `key` only if its value is `value` and `owner_key` still has
    /// create revision `owner_revision`. Returns whether it deleted.
    pub(crate) async fn delete_if_owner_and_value(
        &self,
        owner_key: &str,
        owner_revision: i64,
        key: &str,
        value: &str,
    ) -> Result<bool> {
        let txn = Txn::new()
            .when([
                Compare::create_revision(owner_key, CompareOp::Equal, owner_revision),
                Compare::value(key, CompareOp::Equal, value),
            ])
            .and_then([TxnOp::delete(key, None)]);
        let kv = self.client.kv_client();
        let response = self
            .retry(
                || format!("deleting {key:?}"),
                || {
                    let (mut kv, txn) = (kv.clone(), txn.clone());
                    async move { kv.txn(txn).await }
                },
            )
            .await?;
        Ok(response.succeeded())
    }
}
