//! A watch that outlives broken connections: it remembers the next revision
//! it needs and reopens the stream from there (with backoff) until the
//! caller stops waiting. A start revision that etcd has compacted is
//! reported as `Compacted`, never skipped. A stream that may be on a
//! member that left the rotation (`health.rs`) is reopened the same way.

use std::time::Duration;

use etcd_client::{EventType, WatchClient, WatchOptions, WatchStream};

use super::health::Departures;
use super::key_value;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{Watch, WatchEvent, WatchNext};

pub(crate) struct EtcdWatch {
    client: WatchClient,
    departures: Departures,
    key: String,
    prefix: bool,
    /// The first revision not yet delivered.
    next_revision: i64,
    stream: Option<WatchStream>,
}

impl EtcdWatch {
    pub(super) fn new(
        client: WatchClient,
        departures: Departures,
        key: &str,
        prefix: bool,
        from_revision: i64,
    ) -> Self {
        EtcdWatch {
            client,
            departures,
            key: key.to_string(),
            prefix,
            next_revision: from_revision,
            stream: None,
        }
    }

    /// Opens a watch from the current revision and waits for etcd's
    /// "created" answer: returns the watch and the revision it starts after.
    /// A watch from a past revision that etcd has already passed is served
    /// by its slow "unsynced" loop (every 100 ms); one from now is not.
    pub(super) async fn open_now(
        client: WatchClient,
        departures: Departures,
        key: &str,
        prefix: bool,
        timeout: Duration,
    ) -> Result<(EtcdWatch, i64)> {
        let mut watch = EtcdWatch::new(client, departures, key, prefix, 0);
        let what = format!("watching {key:?}");
        let created = tokio::time::timeout(timeout, async {
            loop {
                let mut departures = watch.departures.seen_so_far();
                let opened = async {
                    let mut stream = watch.open().await?;
                    let first = stream.message().await?;
                    Ok::<_, etcd_client::Error>((stream, first))
                };
                tokio::select! {
                    biased;
                    opened = opened => {
                        watch.departures = departures;
                        break opened;
                    }
                    // Asked of a member that left the rotation: ask again.
                    () = departures.departed() => {}
                }
            }
        })
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Unavailable,
                format!("{what}: no answer within {timeout:?}"),
            )
        })?
        .map_err(|e| super::errors::to_error(&what, e))?;
        match created {
            (stream, Some(response)) if response.created() && !response.canceled() => {
                let revision = response.header().map_or(0, |h| h.revision());
                watch.next_revision = revision + 1;
                watch.stream = Some(stream);
                Ok((watch, revision))
            }
            (_, response) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "{what}: etcd did not create the watch ({})",
                    response.map_or("stream closed".to_string(), |r| r
                        .cancel_reason()
                        .to_string())
                ),
            )),
        }
    }

    async fn open(&mut self) -> std::result::Result<WatchStream, etcd_client::Error> {
        // Revision 0: from now (`open_now`).
        let mut options = WatchOptions::new().with_start_revision(self.next_revision);
        if self.prefix {
            options = options.with_prefix();
        }
        let span = tracing::debug_span!("watch_open", key = %self.key, from = self.next_revision);
        tracing::Instrument::instrument(self.client.watch(self.key.clone(), Some(options)), span)
            .await
    }
}

impl Watch for EtcdWatch {
    async fn next(&mut self) -> Result<WatchNext> {
        let mut delay = Duration::from_millis(50);
        loop {
            // A stream, or its opening, perhaps waiting on a member that
            // left the rotation since it was opened (while the caller was
            // away too): opened again from the next revision needed (no
            // event is lost).
            let opened = match self.stream.take() {
                Some(stream) => Ok(stream),
                None => {
                    let mut departures = self.departures.seen_so_far();
                    let opened = tokio::select! {
                        biased;
                        opened = self.open() => opened,
                        () = departures.departed() => continue,
                    };
                    self.departures = departures;
                    opened
                }
            };
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(error) => {
                    if let super::errors::Class::Final(kind, message) =
                        super::errors::classify(&error)
                    {
                        if matches!(
                            kind,
                            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
                        ) {
                            return Err(Error::new(
                                kind,
                                format!("watching {:?}: {message}", self.key),
                            ));
                        }
                    }
                    tracing::debug!(key = %self.key, %error, "watch: reconnecting");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let message = tokio::select! {
                biased;
                message = stream.message() => message,
                () = self.departures.departed() => {
                    tracing::debug!(key = %self.key, "etcd member left the rotation; reopening the watch from revision {}", self.next_revision);
                    continue;
                }
            };
            match message {
                Ok(Some(response)) => {
                    if response.compact_revision() > 0 {
                        return Ok(WatchNext::Compacted {
                            revision: response.compact_revision(),
                        });
                    }
                    if response.canceled() {
                        let reason = response.cancel_reason().to_string();
                        if reason.contains("permission denied") {
                            return Err(Error::new(
                                ErrorKind::PermissionDenied,
                                format!("watching {:?}: {reason}", self.key),
                            ));
                        }
                        // e.g. "no leader" (the watch requires one): back off
                        // rather than reopen in a tight loop.
                        tracing::debug!(key = %self.key, %reason, "watch cancelled by etcd; reopening");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(1));
                        continue; // stream dropped: reopen from next_revision
                    }
                    let events: Vec<WatchEvent> = response
                        .events()
                        .iter()
                        .filter_map(|event| {
                            let kv = event.kv()?;
                            Some(match event.event_type() {
                                EventType::Put => WatchEvent::Put(key_value(kv)),
                                EventType::Delete => WatchEvent::Delete {
                                    key: String::from_utf8_lossy(kv.key()).into_owned(),
                                    revision: kv.mod_revision(),
                                },
                            })
                        })
                        .collect();
                    self.stream = Some(stream);
                    if let Some(last) = response
                        .events()
                        .iter()
                        .filter_map(|e| e.kv())
                        .map(|kv| kv.mod_revision())
                        .max()
                    {
                        self.next_revision = self.next_revision.max(last + 1);
                    }
                    if !events.is_empty() {
                        return Ok(WatchNext::Events(events));
                    }
                }
                Ok(None) | Err(_) => {
                    tracing::debug!(key = %self.key, "watch stream broke; reopening from revision {}", self.next_revision);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

// Needs the workspace's etcd harness, which the published package does not
// ship: compiled only with `test-util` (the workspace's own test builds).
#[cfg(all(test, feature = "test-util"))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::options::Options;
    use crate::store::Store;

    /// SPEC H7: watches require a leader. A member cut off from quorum
    /// refuses them ("no leader") instead of serving a watch that would
    /// never see another change; without require-leader it accepts it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_without_leader_refuses_watches() {
        let mut cluster = vinesync_testkit::EtcdCluster::start(3).unwrap();
        let store = super::super::EtcdStore::connect(
            &Options::new()
                .nodes([cluster.endpoint(0)])
                .request_timeout(Duration::from_secs(2)),
        )
        .await
        .unwrap();
        store
            .watch_now("/h7/k", false)
            .await
            .expect("a watch with a leader");
        cluster.kill_member(1).unwrap();
        cluster.kill_member(2).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match store.watch_now("/h7/k", false).await {
                Err(error) if error.message().contains("no leader") => break,
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "member 0 still serves watches without a leader: {:?}",
                        other.map(|(_, revision)| revision)
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}
