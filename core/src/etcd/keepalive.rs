//! Lease keepalives over one long-lived stream per lease (etcd-client opens
//! a bidirectional stream per `keep_alive` call; reusing it saves a stream
//! setup every TTL/3). A broken stream is dropped and reopened next time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use etcd_client::{LeaseClient, LeaseKeepAliveStream, LeaseKeeper};

use super::errors;
use crate::error::{Error, ErrorKind, Result};
use crate::store::LeaseId;

#[derive(Default)]
pub(super) struct KeepAlives {
    streams: Mutex<HashMap<LeaseId, (LeaseKeeper, LeaseKeepAliveStream)>>,
}

impl std::fmt::Debug for KeepAlives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAlives").finish_non_exhaustive()
    }
}

impl KeepAlives {
    fn take(&self, lease: LeaseId) -> Option<(LeaseKeeper, LeaseKeepAliveStream)> {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&lease)
    }

    fn put(&self, lease: LeaseId, stream: (LeaseKeeper, LeaseKeepAliveStream)) {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(lease, stream);
    }

    pub fn forget(&self, lease: LeaseId) {
        drop(self.take(lease));
    }

    /// One keepalive round trip; the remaining TTL (≤ 0: the lease is gone).
    pub async fn renew(
        &self,
        client: &mut LeaseClient,
        lease: LeaseId,
        timeout: Duration,
    ) -> Result<i64> {
        let what = format!("keepalive of lease {lease:x}");
        let stream = match self.take(lease) {
            Some(stream) => stream,
            None => tokio::time::timeout(timeout, client.keep_alive(lease))
                .await
                .map_err(|_| no_answer(&what, timeout))?
                .map_err(|e| errors::to_error(&what, e))?,
        };
        let (mut keeper, mut responses) = stream;
        let answer = tokio::time::timeout(timeout, async {
            keeper.keep_alive().await?;
            responses.message().await
        })
        .await
        .map_err(|_| no_answer(&what, timeout))?
        .map_err(|e| errors::to_error(&what, e))?;
        match answer {
            Some(response) if response.ttl() > 0 => {
                self.put(lease, (keeper, responses));
                Ok(response.ttl())
            }
            Some(_) => Ok(0),
            None => Err(Error::new(
                ErrorKind::Unavailable,
                format!("{what}: the keepalive stream closed"),
            )),
        }
    }
}

fn no_answer(what: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("{what}: no answer within {timeout:?}"),
    )
}
