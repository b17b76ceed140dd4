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

type Stream = (LeaseKeeper, LeaseKeepAliveStream);

#[derive(Default)]
pub(super) struct KeepAlives {
    streams: Lent<Stream>,
}

impl std::fmt::Debug for KeepAlives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAlives").finish_non_exhaustive()
    }
}

/// Each lease's stream, lent to one renewal at a time. The lease's entry
/// stays (empty) while its stream is out; [`Lent::forget`] removes it, so
/// a renewal that was in flight when the lease was revoked drops its stream
/// instead of keeping it for a lease nobody renews.
struct Lent<T> {
    entries: Mutex<HashMap<LeaseId, Option<T>>>,
}

impl<T> Default for Lent<T> {
    fn default() -> Self {
        Lent {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Lent<T> {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<LeaseId, Option<T>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lease's stream if it has one; its entry stays, marked lent.
    fn lend(&self, lease: LeaseId) -> Option<T> {
        self.entries().entry(lease).or_insert(None).take()
    }

    /// Puts a stream back, unless the lease was forgotten meanwhile (then
    /// the stream is dropped).
    fn give_back(&self, lease: LeaseId, stream: T) {
        if let Some(entry) = self.entries().get_mut(&lease) {
            *entry = Some(stream);
        }
    }

    /// A renewal that failed: the stream it had is dropped, and the
    /// lease's entry with it (the next renewal opens a stream).
    fn drop_lent(&self, lease: LeaseId) {
        let mut entries = self.entries();
        if entries.get(&lease).is_some_and(Option::is_none) {
            entries.remove(&lease);
        }
    }

    /// The lease is gone: its stream, and one a renewal has out, are dropped.
    fn forget(&self, lease: LeaseId) {
        drop(self.entries().remove(&lease));
    }
}

impl KeepAlives {
    pub fn forget(&self, lease: LeaseId) {
        self.streams.forget(lease);
    }

    /// One keepalive round trip; the remaining TTL (≤ 0: the lease is gone).
    pub async fn renew(
        &self,
        client: &mut LeaseClient,
        lease: LeaseId,
        timeout: Duration,
    ) -> Result<i64> {
        let lent = self.streams.lend(lease);
        let renewed = Self::renew_with(client, lease, lent, timeout).await;
        match renewed {
            Ok((ttl, stream)) if ttl > 0 => {
                self.streams.give_back(lease, stream);
                Ok(ttl)
            }
            Ok((ttl, _)) => {
                self.streams.drop_lent(lease);
                Ok(ttl)
            }
            Err(error) => {
                self.streams.drop_lent(lease);
                Err(error)
            }
        }
    }

    /// One keepalive on `lent` (or a stream opened for it); the remaining
    /// TTL and the stream.
    async fn renew_with(
        client: &mut LeaseClient,
        lease: LeaseId,
        lent: Option<Stream>,
        timeout: Duration,
    ) -> Result<(i64, Stream)> {
        let what = format!("keepalive of lease {lease:x}");
        let stream = match lent {
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
            Some(response) => Ok((response.ttl(), (keeper, responses))),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Lent;

    #[test]
    fn a_stream_lent_when_its_lease_was_forgotten_is_not_kept() {
        let streams = Lent::default();
        assert_eq!(streams.lend(7), None);
        streams.give_back(7, "first");
        assert_eq!(streams.lend(7), Some("first"));
        // Revoked while the renewal has the stream out.
        streams.forget(7);
        streams.give_back(7, "renewed");
        assert_eq!(streams.lend(7), None, "a forgotten lease's stream was kept");
        assert!(streams.entries().contains_key(&7));
        // A failed renewal leaves no entry behind.
        streams.drop_lent(7);
        assert!(streams.entries().is_empty());
    }
}
