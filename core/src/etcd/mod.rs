//! The etcd backend (placeholder until the etcd issue lands): every
//! operation answers `Unavailable` with a message saying so.

use crate::error::{Error, ErrorKind, Result};
use crate::options::Options;
use crate::store::{Created, KeyValue, LeaseId, Range, RangeOptions, Store, Watch, WatchNext};

/// A connection to an etcd cluster.
#[derive(Clone, Debug)]
pub struct EtcdStore {
    _private: (),
}

/// A watch on etcd.
#[derive(Debug)]
pub(crate) struct EtcdWatch {
    _private: (),
}

fn not_yet() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "the etcd backend is not available in this build yet",
    )
}

impl EtcdStore {
    /// Connects to the endpoints of `options`.
    pub async fn connect(options: &Options) -> Result<EtcdStore> {
        options.validate()?;
        Err(not_yet())
    }
}

impl Store for EtcdStore {
    type Watch = EtcdWatch;

    async fn grant(&self, _ttl: i64) -> Result<LeaseId> {
        Err(not_yet())
    }
    async fn keep_alive(&self, _lease: LeaseId) -> Result<i64> {
        Err(not_yet())
    }
    async fn revoke(&self, _lease: LeaseId) -> Result<()> {
        Err(not_yet())
    }
    async fn create(
        &self,
        _key: &str,
        _value: Vec<u8>,
        _lease: LeaseId,
        _dir: &str,
    ) -> Result<Created> {
        Err(not_yet())
    }
    async fn get(&self, _key: &str) -> Result<Option<KeyValue>> {
        Err(not_yet())
    }
    async fn range(&self, _dir: &str, _options: RangeOptions) -> Result<Range> {
        Err(not_yet())
    }
    async fn delete_owned(&self, _key: &str, _create_revision: i64) -> Result<bool> {
        Err(not_yet())
    }
    async fn compact(&self, _revision: i64) -> Result<()> {
        Err(not_yet())
    }
    async fn watch(&self, _key: &str, _prefix: bool, _from_revision: i64) -> Result<EtcdWatch> {
        Err(not_yet())
    }
}

impl Watch for EtcdWatch {
    async fn next(&mut self) -> Result<WatchNext> {
        Err(not_yet())
    }
}
