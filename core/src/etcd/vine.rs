//! The one write of vine's `primary/{ns}` key (vine layout only; see
//! `vine_primary.rs`): guarded so a candidate that is no longer one never
//! writes it. Never deleted (vine's `ListMembers` panics without it).

use etcd_client::TxnOp;

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
}
