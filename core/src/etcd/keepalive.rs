//! Lease keepalives over one long-lived stream per lease (etcd-client opens
//! a bidirectional stream per `keep_alive` call; reusing it saves a stream
//! setup every TTL/3). A broken stream is dropped and reopened next time,
//! as is one opened before a member left the rotation (`health.rs`): it
//! may be on that member.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use etcd_client::{LeaseClient, LeaseKeepAliveStream, LeaseKeeper};

use super::errors;
use super::health::Departures;
use crate::error::{Error, ErrorKind, Result};
use crate::store::LeaseId;

/// A lease's keepalive stream, and the departures it has seen since it
/// was opened.
type Stream = (LeaseKeeper, LeaseKeepAliveStream, Departures);

#[derive(Default)]
pub(super) struct KeepAlives {
    streams: Mutex<HashMap<LeaseId, Stream>>,
}

impl std::fmt::Debug for KeepAlives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAlives").finish_non_exhaustive()
    }
}

impl KeepAlives {
    fn take(&self, lease: LeaseId) -> Option<Stream> {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&lease)
    }

    fn put(&self, lease: LeaseId, stream: Stream) {
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
        departures: &Departures,
    ) -> Result<i64> {
        let what = format!("keepalive of lease {lease:x}");
        let kept = self.take(lease).filter(|(_, _, seen)| !seen.has_departed());
        let answer = tokio::time::timeout(timeout, async {
            let mut kept = kept;
            loop {
                let (mut keeper, mut responses, mut seen) = match kept.take() {
                    Some(stream) => stream,
                    None => {
                        let mut seen = departures.seen_so_far();
                        tokio::select! {
                            biased;
                            opened = client.keep_alive(lease) => {
                                let (keeper, responses) = opened?;
                                (keeper, responses, seen)
                            }
                            () = seen.departed() => continue,
                        }
                    }
                };
                let renewed = async {
                    keeper.keep_alive().await?;
                    responses.message().await
                };
                tokio::select! {
                    biased;
                    answer = renewed => break answer.map(|answer| (answer, (keeper, responses, seen))),
                    // Perhaps waiting on a member that left the rotation:
                    // a new stream, on a member still in it.
                    () = seen.departed() => {}
                }
            }
        })
        .await
        .map_err(|_| no_answer(&what, timeout))?
        .map_err(|e| errors::to_error(&what, e))?;
        match answer {
            (Some(response), stream) if response.ttl() > 0 => {
                self.put(lease, stream);
                Ok(response.ttl())
            }
            (Some(_), _) => Ok(0),
            (None, _) => Err(Error::new(
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
