//! The etcd backend: the store operations of `store.rs` on etcd's KV, Txn,
//! Watch and Lease APIs (not its server-side Lock/Election RPCs, which on
//! etcd 3.4 can answer "held" to a waiter whose lease expired).
//!
//! Every request is retried on transient failures (a member down, a leader
//! change, a broken connection) until the request timeout, then reported
//! as `Unavailable` naming the endpoints.

mod busy_dirs;
mod connect;
mod errors;
mod health;
mod keepalive;
mod vine;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, SortOrder, SortTarget, Txn,
    TxnOp, TxnOpResponse,
};

use crate::error::{Error, Result};
use crate::options::Options;
use crate::store::{
    Created, Deleted, KeyValue, LeaseId, QueuePosition, Range, RangeOptions, Store,
};

use busy_dirs::BusyDirs;
use keepalive::KeepAlives;
pub(crate) use watch::EtcdWatch;

/// A connection to an etcd cluster (cheap to clone).
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    /// The endpoints as given, for messages.
    endpoints: String,
    request_timeout: Duration,
    /// The id of the cluster that answered the connect (0 if it said none).
    cluster_id: u64,
    keepalives: Arc<KeepAlives>,
    /// Where a create skips the empty-directory compare (`busy_dirs.rs`).
    busy_dirs: Arc<BusyDirs>,
    /// The member probes (`health.rs`; with more than one endpoint), until
    /// the last clone is dropped or the handle closes.
    probes: Arc<std::sync::Mutex<Option<health::Probes>>>,
    /// Members leaving the rotation: what waits on one is sent again.
    departures: health::Departures,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// An etcd key-value as the store trait speaks it.
fn key_value(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        lease: kv.lease(),
    }
}

/// The oldest key under `dir`; keys only: the callers compare create
/// revisions, and a value can be large.
fn first_of(dir: &str) -> TxnOp {
    TxnOp::get(
        dir,
        Some(
            GetOptions::new()
                .with_prefix()
                .with_sort(SortTarget::Create, SortOrder::Ascend)
                .with_limit(1)
                .with_keys_only(),
        ),
    )
}

/// The two newest keys under `dir`, keys only. Read in the transaction
/// that wrote our key, right after it: ours (the store's newest revision)
/// and our predecessor in the queue, if any.
fn newest_two_of(dir: &str) -> TxnOp {
    TxnOp::get(
        dir,
        Some(
            GetOptions::new()
                .with_prefix()
                .with_sort(SortTarget::Create, SortOrder::Descend)
                .with_limit(2)
                .with_keys_only(),
        ),
    )
}

/// The answers of a transaction's reads, in order.
fn reads_of(response: etcd_client::TxnResponse) -> impl Iterator<Item = etcd_client::GetResponse> {
    response
        .op_responses()
        .into_iter()
        .filter_map(|op| match op {
            TxnOpResponse::Get(get) => Some(get),
            _ => None,
        })
}

/// What the queued create transaction (see [`EtcdStore::create`]) found;
/// `revision` is its header's.
fn queued_created(
    response: etcd_client::TxnResponse,
    key: &str,
    lease: LeaseId,
    revision: i64,
    resent: bool,
) -> Result<Created> {
    let succeeded = response.succeeded();
    let mut gets = reads_of(response);
    if succeeded {
        // [ours, predecessor]: no predecessor means ours is the first.
        let newest: Vec<KeyValue> = gets
            .next()
            .map(|g| g.kvs().iter().map(key_value).collect())
            .unwrap_or_default();
        return Ok(match newest.as_slice() {
            [ours] if ours.create_revision == revision => Created {
                revision,
                first_revision: Some(ours.create_revision),
                predecessor: None,
                resent,
            },
            // Not the first; the first itself was not read.
            [ours, predecessor] if ours.create_revision == revision => Created {
                revision,
                first_revision: None,
                predecessor: Some(predecessor.clone()),
                resent,
            },
            // Unexpected: say nothing; the waiter reads the queue.
            _ => Created {
                revision,
                first_revision: None,
                predecessor: None,
                resent,
            },
        });
    }
    // The key exists. No write of a name can be pending when it is
    // written again (`key_names.rs`), so after a resend this is our own
    // earlier send, whose answer was lost: adopt it. Without a resend it
    // is nobody's to adopt.
    let existing = gets.next().and_then(|g| g.kvs().first().map(key_value));
    let first_revision = gets
        .next()
        .and_then(|g| g.kvs().first().map(|kv| kv.create_revision()));
    match existing {
        Some(kv) if kv.lease == lease && resent => Ok(Created {
            revision: kv.create_revision,
            first_revision,
            predecessor: None,
            resent,
        }),
        _ => Err(Error::internal(format!("key {key:?} already exists"))),
    }
}

impl EtcdStore {
    /// Connects to `options.nodes` and checks the cluster answers.
    pub async fn connect(options: &Options) -> Result<EtcdStore> {
        options.validate()?;
        let connected = connect::connect(options).await?;
        let (probes, departures) = health::start(
            &connected.client,
            connected.urls,
            connected.options,
            options.dial_timeout,
            connected.probe_key,
        );
        Ok(EtcdStore {
            client: connected.client,
            endpoints: options.nodes.join(","),
            request_timeout: options.request_timeout,
            cluster_id: connected.cluster_id,
            keepalives: Arc::new(KeepAlives::default()),
            busy_dirs: Arc::default(),
            probes: Arc::new(std::sync::Mutex::new(probes)),
            departures,
        })
    }

    /// Stops the member probes (the handle is closed).
    pub(crate) fn stop_probes(&self) {
        drop(self.probes.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    /// The id of the cluster this store is connected to (0 if unknown).
    pub(crate) fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    async fn retry<T, F, Fut>(&self, what: impl Fn() -> String, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        errors::retry(
            what,
            &self.endpoints,
            self.request_timeout,
            &self.departures,
            op,
        )
        .await
    }

    /// [`Self::retry`], also telling whether the request was sent more
    /// than once: an earlier attempt whose answer was lost may then have
    /// taken effect already.
    async fn retry_telling_resent<T, F, Fut>(
        &self,
        what: impl Fn() -> String,
        mut op: F,
    ) -> (Result<T>, bool)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let mut attempts = 0usize;
        let result = self
            .retry(what, || {
                attempts += 1;
                op()
            })
            .await;
        (result, attempts > 1)
    }

    /// Sends `txn`, retried like every request ([`Self::retry`]), telling
    /// whether it was sent more than once.
    async fn txn_telling_resent(
        &self,
        what: impl Fn() -> String,
        txn: Txn,
    ) -> (Result<etcd_client::TxnResponse>, bool) {
        let kv = self.client.kv_client();
        self.retry_telling_resent(what, || {
            let (mut kv, txn) = (kv.clone(), txn.clone());
            async move { kv.txn(txn).await }
        })
        .await
    }

    /// [`Self::txn_telling_resent`], for a transaction a resend cannot
    /// confuse (a read, or a guarded write whose answer says enough).
    async fn txn_retried(
        &self,
        what: impl Fn() -> String,
        txn: Txn,
    ) -> Result<etcd_client::TxnResponse> {
        self.txn_telling_resent(what, txn).await.0
    }

    async fn range_raw(&self, key: &str, options: GetOptions) -> Result<etcd_client::GetResponse> {
        let kv = self.client.kv_client();
        self.retry(
            || format!("reading {key:?}"),
            || {
                let (mut kv, key, options) = (kv.clone(), key.to_string(), options.clone());
                async move { kv.get(key, Some(options)).await }
            },
        )
        .await
    }
}

impl EtcdStore {
    /// Closes the keepalive stream of `lease` (the lease is gone).
    pub(crate) fn forget_keepalive(&self, lease: LeaseId) {
        self.keepalives.forget(lease);
    }

    /// Runs `ops` in one transaction only if `key` still has create
    /// revision `create_revision` (the holder's own key: Go's
    /// `Mutex.IsOwner()` compare). `Ok(None)` when it does not.
    pub(crate) async fn txn_if_owner(
        &self,
        key: &str,
        create_revision: i64,
        ops: Vec<TxnOp>,
    ) -> Result<Option<etcd_client::TxnResponse>> {
        let kv = self.client.kv_client();
        let txn = Txn::new()
            .when([Compare::create_revision(
                key,
                CompareOp::Equal,
                create_revision,
            )])
            .and_then(ops);
        // Not retried blindly: a transaction whose answer was lost may have
        // been applied, and `ops` are the caller's (not idempotent in
        // general). One attempt, bounded by the request timeout.
        let mut client = kv;
        let response = tokio::time::timeout(self.request_timeout, client.txn(txn))
            .await
            .map_err(|_| {
                Error::new(
                    crate::ErrorKind::Unavailable,
                    format!(
                        "guarded transaction on {key:?}: no answer within {:?} (it may or may not have been applied)",
                        self.request_timeout
                    ),
                )
            })?
            .map_err(|e| errors::to_error(&format!("guarded transaction on {key:?}"), e))?;
        Ok(response.succeeded().then_some(response))
    }
}

impl EtcdStore {
    /// Deletes `key`, whose name is ours alone (`{lease:x}_{seq:x}`, see
    /// [`Store::delete`]), and tells whether it still had create revision
    /// `create_revision`: one plain delete with prev_kv instead of a
    /// guarded transaction. Nobody else writes a key of that name, so the
    /// delete cannot remove another holder's key; prev_kv's create revision
    /// says whether it was still ours.
    pub(crate) async fn delete_unique(&self, key: &str, create_revision: i64) -> Result<Deleted> {
        let kv = self.client.kv_client();
        let (response, resent) = self
            .retry_telling_resent(
                || format!("deleting {key:?}"),
                || {
                    let (mut kv, key) = (kv.clone(), key.to_string());
                    async move {
                        kv.delete(key, Some(DeleteOptions::new().with_prev_key()))
                            .await
                    }
                },
            )
            .await;
        let ours = match response?.prev_kvs().first() {
            Some(prev) => prev.create_revision() == create_revision,
            // Already gone. After a retry, our own earlier attempt whose
            // answer was lost may have deleted it: count that as deleted
            // rather than report a lost key (as `delete_owned` does).
            None => resent,
        };
        Ok(Deleted { ours, resent })
    }
}

impl Store for EtcdStore {
    type Watch = EtcdWatch;

    async fn grant(&self, ttl: i64, id: LeaseId) -> Result<(LeaseId, i64)> {
        let lease = self.client.lease_client();
        let (granted, resent) = self
            .retry_telling_resent(
                || format!("granting a {ttl}s lease"),
                || {
                    let mut lease = lease.clone();
                    let options = etcd_client::LeaseGrantOptions::new().with_id(id);
                    async move { lease.grant(ttl, Some(options)).await }
                },
            )
            .await;
        match granted {
            Ok(granted) => Ok((granted.id(), granted.ttl())),
            // Our id is ours alone: a retry that finds it granted means the
            // first attempt landed and only its answer was lost. Adopt it.
            Err(error) if error.message().contains("lease already exists") && resent => {
                let client = self.client.lease_client();
                let alive = self
                    .retry(
                        || format!("reading lease {id:x}"),
                        || {
                            let mut client = client.clone();
                            async move { client.time_to_live(id, None).await }
                        },
                    )
                    .await?;
                Ok((id, alive.granted_ttl()))
            }
            Err(error) => Err(error),
        }
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<i64> {
        let mut client = self.client.lease_client();
        self.keepalives
            .renew(&mut client, lease, self.request_timeout, &self.departures)
            .await
    }

    async fn revoke(&self, lease: LeaseId) -> Result<()> {
        self.keepalives.forget(lease);
        let client = self.client.lease_client();
        let revoked = self
            .retry(
                || format!("revoking lease {lease:x}"),
                || {
                    let mut client = client.clone();
                    async move { client.revoke(lease).await }
                },
            )
            .await;
        match revoked {
            Ok(_) => Ok(()),
            // Already gone: that is what we wanted.
            Err(error) if error.kind() == crate::ErrorKind::Lost => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn create(
        &self,
        key: &Arc<str>,
        value: Arc<[u8]>,
        lease: LeaseId,
        dir: &str,
    ) -> Result<Created> {
        let key: &str = key;
        let own_put = TxnOp::put(
            key,
            value.to_vec(),
            Some(PutOptions::new().with_lease(lease)),
        );
        // The general path: put-if-absent, plus the two newest keys of the
        // directory (ours and our predecessor: a range sorted by create
        // revision, which etcd answers by reading the whole directory).
        let queued = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([own_put.clone(), newest_two_of(dir)])
            .or_else([TxnOp::get(key, None), first_of(dir)]);
        // Fast path, same request: a directory without any key (so without
        // ours either) takes the put alone, and our key is the first. A
        // compare over an empty range compares a zero key-value, so
        // "create revision = 0 over the prefix" holds only when it is
        // empty. Skipped where the last create found the directory busy.
        let fast_path = !self.busy_dirs.is_busy(dir);
        let txn = if fast_path {
            Txn::new()
                .when([Compare::create_revision(dir, CompareOp::Equal, 0).with_prefix()])
                .and_then([own_put])
                .or_else([TxnOp::txn(queued)])
        } else {
            queued
        };
        let (response, resent) = self
            .txn_telling_resent(|| format!("creating {key:?}"), txn)
            .await;
        let response = response?;
        // The outer header's revision: the put's, when this request wrote.
        let revision = response.header().map_or(0, |h| h.revision());
        let queued_answer = if !fast_path {
            response
        } else if response.succeeded() {
            return Ok(Created {
                revision,
                first_revision: Some(revision),
                predecessor: None,
                resent,
            });
        } else {
            let nested = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Txn(inner) => Some(inner),
                _ => None,
            });
            nested.ok_or_else(|| {
                Error::internal(format!(
                    "creating {key:?}: the transaction's answer has no nested answer"
                ))
            })?
        };
        let created = queued_created(queued_answer, key, lease, revision, resent)?;
        let busy = created.first_revision != Some(created.revision);
        if busy || !fast_path {
            self.busy_dirs.note(dir, busy);
        }
        Ok(created)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let response = self.range_raw(key, GetOptions::new()).await?;
        Ok(response.kvs().first().map(key_value))
    }

    async fn range(&self, dir: &str, options: RangeOptions) -> Result<Range> {
        let order = if options.descending {
            SortOrder::Descend
        } else {
            SortOrder::Ascend
        };
        let mut get = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, order);
        if let Some(max) = options.max_create_revision {
            get = get.with_max_create_revision(max);
        }
        if let Some(limit) = options.limit {
            get = get.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if options.keys_only {
            get = get.with_keys_only();
        }
        let response = self.range_raw(dir, get).await?;
        Ok(Range {
            kvs: response.kvs().iter().map(key_value).collect(),
            revision: response.header().map_or(0, |h| h.revision()),
        })
    }

    /// One read-only transaction (a linearizable read, no write): the
    /// predecessor range and the own key, so a handoff costs the waiter
    /// one round trip after the delete event, not two.
    async fn queue_position(&self, dir: &str, key: &str, revision: i64) -> Result<QueuePosition> {
        let older = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Descend)
            .with_max_create_revision(revision - 1)
            .with_limit(1)
            .with_keys_only();
        let txn = Txn::new().and_then([
            TxnOp::get(dir, Some(older)),
            TxnOp::get(key, Some(GetOptions::new().with_keys_only())),
        ]);
        let response = self
            .txn_retried(|| format!("reading the queue of {dir:?}"), txn)
            .await?;
        let mut gets = reads_of(response);
        let (Some(older), Some(own)) = (gets.next(), gets.next()) else {
            return Err(Error::internal(format!(
                "reading the queue of {dir:?}: the transaction's answer lacks a read"
            )));
        };
        Ok(QueuePosition {
            older: older.kvs().first().map(key_value),
            own_key_present: own
                .kvs()
                .first()
                .is_some_and(|kv| kv.create_revision() == revision),
        })
    }

    async fn delete_owned(&self, key: &str, create_revision: i64) -> Result<bool> {
        let txn = Txn::new()
            .when([Compare::create_revision(
                key,
                CompareOp::Equal,
                create_revision,
            )])
            .and_then([TxnOp::delete(key, None)])
            .or_else([TxnOp::get(
                key,
                Some(etcd_client::GetOptions::new().with_count_only()),
            )]);
        let (response, resent) = self
            .txn_telling_resent(|| format!("deleting {key:?}"), txn)
            .await;
        let response = response?;
        if response.succeeded() {
            return Ok(true);
        }
        // After a retry, a key that is gone may have been deleted by our own
        // earlier attempt whose answer was lost (etcd unreachable, a leader
        // change): count that as deleted rather than report a lost key.
        let absent = reads_of(response).any(|get| get.count() == 0);
        Ok(absent && resent)
    }

    async fn update_owned(&self, key: &str, create_revision: i64, value: Vec<u8>) -> Result<bool> {
        let txn = Txn::new()
            .when([Compare::create_revision(
                key,
                CompareOp::Equal,
                create_revision,
            )])
            .and_then([TxnOp::put(
                key,
                value,
                Some(PutOptions::new().with_ignore_lease()),
            )]);
        // Not sent again when a member leaves the rotation: a first send
        // still waiting on that member could land after a later update and
        // undo it (its guard, the create revision, still holds). It waits
        // for the member or its request timeout, as before.
        let kv = self.client.kv_client();
        let response = errors::retry(
            || format!("updating {key:?}"),
            &self.endpoints,
            self.request_timeout,
            &health::Departures::none(),
            || {
                let (mut kv, txn) = (kv.clone(), txn.clone());
                async move { kv.txn(txn).await }
            },
        )
        .await?;
        Ok(response.succeeded())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let kv = self.client.kv_client();
        let response = self
            .retry(
                || format!("deleting {key:?}"),
                || {
                    let (mut kv, key) = (kv.clone(), key.to_string());
                    async move { kv.delete(key, None).await }
                },
            )
            .await?;
        Ok(response.deleted() > 0)
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let kv = self.client.kv_client();
        self.retry(
            || format!("compacting at revision {revision}"),
            || {
                let mut kv = kv.clone();
                async move { kv.compact(revision, None).await }
            },
        )
        .await
        .map(|_| ())
    }

    async fn watch_now(&self, key: &str, prefix: bool) -> Result<(EtcdWatch, i64)> {
        EtcdWatch::open_now(
            self.client.watch_client(),
            self.departures.clone(),
            key,
            prefix,
            self.request_timeout,
        )
        .await
    }

    async fn watch(&self, key: &str, prefix: bool, from_revision: i64) -> Result<EtcdWatch> {
        Ok(EtcdWatch::new(
            self.client.watch_client(),
            self.departures.clone(),
            key,
            prefix,
            from_revision,
        ))
    }
}
