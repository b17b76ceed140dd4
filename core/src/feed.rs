//! The election feed behind `watch_elect` and `observe` (SPEC E6, E8): read
//! the namespace at revision R, keep its candidates ordered by create
//! revision, watch the namespace from R + 1 and turn every change into
//! joined / left / elected events. After a compaction the feed re-reads the
//! namespace, emits the difference and resumes, so no primary change is
//! skipped silently.

use std::collections::{BTreeMap, HashMap};

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::backend::Backend;
use crate::error::Result;
use crate::keys::{self, MemberValue};
use crate::member::{ElectEvent, ElectEventKind, Member, ObserveResult, Role};
use crate::store::{KeyValue, Range, RangeOptions, Store, Watch, WatchEvent, WatchNext};

/// The candidates of one namespace, ordered by create revision.
struct Candidates {
    namespace: String,
    by_revision: BTreeMap<i64, (String, MemberValue)>,
    by_key: HashMap<String, i64>,
}

impl Candidates {
    fn new(namespace: &str) -> Self {
        Candidates {
            namespace: namespace.to_string(),
            by_revision: BTreeMap::new(),
            by_key: HashMap::new(),
        }
    }

    fn primary_revision(&self) -> Option<i64> {
        self.by_revision.keys().next().copied()
    }

    fn member(&self, revision: i64) -> Option<Member> {
        let (_, value) = self.by_revision.get(&revision)?;
        let role = if self.primary_revision() == Some(revision) {
            Role::Primary
        } else {
            Role::Follow
        };
        Some(Member::from_value(value.clone(), role))
    }

    /// Adds a key; returns the events it causes.
    fn join(&mut self, kv: &KeyValue, at: i64, out: &mut Vec<ElectEvent>) {
        if let Some(&revision) = self.by_key.get(&kv.key) {
            // An update of a candidate we know (`proclaim`): not a join. A
            // primary that proclaims a new value is announced again.
            let value = keys::parse_member(&kv.key, &kv.value, &self.namespace);
            let changed = self
                .by_revision
                .get_mut(&revision)
                .is_some_and(|(_, old)| std::mem::replace(old, value.clone()) != value);
            if changed && self.primary_revision() == Some(revision) {
                if let Some(member) = self.member(revision) {
                    out.push(event(ElectEventKind::Elected, member, at));
                }
            }
            return;
        }
        let before = self.primary_revision();
        let value = keys::parse_member(&kv.key, &kv.value, &self.namespace);
        self.by_key.insert(kv.key.clone(), kv.create_revision);
        self.by_revision
            .insert(kv.create_revision, (kv.key.clone(), value));
        if let Some(member) = self.member(kv.create_revision) {
            out.push(event(ElectEventKind::Joined, member, at));
        }
        self.primary_change(before, at, out);
    }

    /// Removes a key; returns the events it causes.
    fn leave(&mut self, key: &str, at: i64, out: &mut Vec<ElectEvent>) {
        let Some(revision) = self.by_key.remove(key) else {
            return;
        };
        let before = self.primary_revision();
        let role = if before == Some(revision) {
            Role::Primary
        } else {
            Role::Follow
        };
        if let Some((_, value)) = self.by_revision.remove(&revision) {
            out.push(event(
                ElectEventKind::Left,
                Member::from_value(value, role),
                at,
            ));
        }
        self.primary_change(before, at, out);
    }

    fn primary_change(&self, before: Option<i64>, at: i64, out: &mut Vec<ElectEvent>) {
        let after = self.primary_revision();
        if after != before {
            if let Some(member) = after.and_then(|r| self.member(r)) {
                out.push(event(ElectEventKind::Elected, member, at));
            }
        }
    }

    /// Replaces the state with a fresh read, emitting the difference.
    fn resync(&mut self, range: &Range, out: &mut Vec<ElectEvent>) {
        let fresh: HashMap<&str, &KeyValue> =
            range.kvs.iter().map(|kv| (kv.key.as_str(), kv)).collect();
        let gone: Vec<String> = self
            .by_key
            .keys()
            .filter(|k| !fresh.contains_key(k.as_str()))
            .cloned()
            .collect();
        for key in gone {
            self.leave(&key, range.revision, out);
        }
        for kv in &range.kvs {
            self.join(kv, range.revision, out);
        }
    }
}

fn event(kind: ElectEventKind, member: Member, revision: i64) -> ElectEvent {
    ElectEvent {
        kind,
        member,
        revision,
    }
}

/// Reads a namespace: its members in campaign order, primary first.
pub(crate) async fn list(backend: &Backend, dir: &str, namespace: &str) -> Result<Vec<Member>> {
    let range = backend.range(dir, RangeOptions::default()).await?;
    Ok(range
        .kvs
        .iter()
        .enumerate()
        .map(|(i, kv)| {
            let role = if i == 0 { Role::Primary } else { Role::Follow };
            Member::from_value(keys::parse_member(&kv.key, &kv.value, namespace), role)
        })
        .collect())
}

/// How many events a feed buffers for a consumer that does not keep up.
/// When the buffer is full the feed stops reading from the store until the
/// consumer catches up (etcd then buffers on its side); nothing is dropped.
pub const FEED_BUFFER: usize = 1024;

/// A running feed: events arrive on `events`; dropping it stops the task.
pub(crate) struct Feed {
    events: mpsc::Receiver<Result<ElectEvent>>,
    task: tokio::task::JoinHandle<()>,
    closed: bool,
}

impl Feed {
    /// Reads the namespace now (so errors surface to the caller), then
    /// follows it in the background. With `announce_primary`, the current
    /// primary is delivered first as an `Elected` event.
    pub async fn start(
        backend: Backend,
        dir: String,
        namespace: &str,
        announce_primary: bool,
        closing: tokio_util::sync::CancellationToken,
    ) -> Result<Feed> {
        let range = backend.range(&dir, RangeOptions::default()).await?;
        let mut candidates = Candidates::new(namespace);
        let mut initial = Vec::new();
        candidates.resync(&range, &mut initial);
        let (tx, events) = mpsc::channel(FEED_BUFFER);
        if announce_primary {
            if let Some(primary) = candidates
                .primary_revision()
                .and_then(|r| candidates.member(r))
            {
                let _ = tx.try_send(Ok(event(ElectEventKind::Elected, primary, range.revision)));
            }
        }
        // Closing the handle ends the feed: its consumer gets what is
        // buffered, then the end (SPEC H1).
        let following = follow(backend, dir, candidates, range.revision, tx);
        let task = tokio::spawn(async move {
            tokio::select! {
                biased;
                () = closing.cancelled() => {}
                () = following => {}
            }
        });
        Ok(Feed {
            events,
            task,
            closed: false,
        })
    }

    /// The next event; `None` once the feed has ended (closed, or its
    /// watch failed — then the last item was the error).
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<ElectEvent>>> {
        if self.closed {
            return Poll::Ready(None);
        }
        self.events.poll_recv(cx)
    }

    pub fn close(&mut self) {
        self.closed = true;
        self.task.abort();
        self.events.close();
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn follow(
    backend: Backend,
    dir: String,
    mut candidates: Candidates,
    mut revision: i64,
    tx: mpsc::Sender<Result<ElectEvent>>,
) {
    loop {
        let mut watch = match backend.watch(&dir, true, revision + 1).await {
            Ok(watch) => watch,
            Err(error) => {
                let _ = tx.send(Err(error)).await;
                return;
            }
        };
        loop {
            let mut out = Vec::new();
            let mut rewatch = false;
            match watch.next().await {
                Ok(WatchNext::Events(events)) => {
                    for change in events {
                        match change {
                            WatchEvent::Put(kv) => {
                                revision = revision.max(kv.mod_revision);
                                candidates.join(&kv, kv.mod_revision, &mut out);
                            }
                            WatchEvent::Delete { key, revision: at } => {
                                revision = revision.max(at);
                                candidates.leave(&key, at, &mut out);
                            }
                        }
                    }
                }
                Ok(WatchNext::Compacted {
                    revision: compacted,
                }) => {
                    tracing::debug!(%dir, compacted, "election watch compacted; re-reading");
                    match backend.range(&dir, RangeOptions::default()).await {
                        Ok(range) => {
                            candidates.resync(&range, &mut out);
                            revision = range.revision;
                            rewatch = true;
                        }
                        Err(error) => {
                            let _ = tx.send(Err(error)).await;
                            return;
                        }
                    }
                }
                Err(error) => {
                    let _ = tx.send(Err(error)).await;
                    return;
                }
            }
            for e in out {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            if rewatch {
                break; // watch again from the re-read revision
            }
        }
    }
}

/// `watch_elect`'s handle (vine's `ElectWatcher`): `next()` blocks until
/// the next event; `close()` ends it.
#[derive(Debug)]
pub struct ElectWatcher {
    feed: Feed,
    id: Option<String>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").finish_non_exhaustive()
    }
}

impl ElectWatcher {
    pub(crate) fn new(feed: Feed, id: Option<String>) -> Self {
        ElectWatcher { feed, id }
    }

    /// The next join, leave or primary change (filtered to `WatchId` when
    /// one was given); `None` after `close()` or after an error was
    /// returned. The same as [`Stream`]'s `next`.
    ///
    /// Cancel-safe: an event not yet returned is returned by the next call.
    pub async fn next(&mut self) -> Option<Result<ElectEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Ends the watch; `next` then returns `None`.
    pub fn close(&mut self) {
        self.feed.close();
    }
}

/// Up to 1024 events wait for a slow consumer; then the watch
/// pauses until it catches up (nothing is dropped).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> vinesync::Result<()> {
/// use futures::StreamExt;
/// use vinesync::{Client, LeaderOptions, Options, WatchOptions};
/// let s = Client::memory(Options::new().prefix("/doc/stream"))?;
/// let watcher = s.watch_elect(WatchOptions::new()).await?;
/// let leader = s.leader("svc", LeaderOptions::new().id("a")).await?;
/// let first: Vec<_> = watcher.take(1).collect().await;
/// assert_eq!(first[0].as_ref().map(|e| e.member.id.as_str()).ok(), Some("a"));
/// leader.resign().await
/// # }
/// ```
impl Stream for ElectWatcher {
    type Item = Result<ElectEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.feed.poll_next(cx) {
                Poll::Ready(Some(Ok(event)))
                    if this.id.as_ref().is_some_and(|id| *id != event.member.id) =>
                {
                    continue
                }
                other => return other,
            }
        }
    }
}

/// `Leader::observe`'s stream (vine's `Observe()` channel): one
/// [`ObserveResult`] each time the namespace's primary changes, starting
/// with the current primary.
#[derive(Debug)]
pub struct Observer {
    feed: Feed,
}

impl Observer {
    pub(crate) fn new(feed: Feed) -> Self {
        Observer { feed }
    }

    /// The next primary; `None` after `close()` or after an error was
    /// returned. The same as [`Stream`]'s `next`.
    ///
    /// Cancel-safe: a change not yet returned is returned by the next call.
    pub async fn next(&mut self) -> Option<Result<ObserveResult>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Ends the stream; `next` then returns `None`.
    pub fn close(&mut self) {
        self.feed.close();
    }
}

/// Buffered like [`ElectWatcher`].
impl Stream for Observer {
    type Item = Result<ObserveResult>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.feed.poll_next(cx) {
                Poll::Ready(Some(Ok(event))) if event.kind != ElectEventKind::Elected => continue,
                Poll::Ready(Some(Ok(event))) => {
                    return Poll::Ready(Some(Ok(ObserveResult {
                        namespace: event.member.namespace,
                        id: event.member.id,
                    })))
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn kv(key: &str, id: &str, rev: i64) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: format!(r#"{{"leader":"l","id":"{id}","namespace":"ns","role":""}}"#)
                .into_bytes(),
            create_revision: rev,
            mod_revision: rev,
            lease: 1,
        }
    }

    fn kinds(events: &[ElectEvent]) -> Vec<(ElectEventKind, &str)> {
        events
            .iter()
            .map(|e| (e.kind, e.member.id.as_str()))
            .collect()
    }

    /// After a compaction the feed re-reads: the difference becomes events,
    /// so a primary change during the gap is not lost (SPEC E8).
    #[test]
    fn resync_emits_the_difference() {
        use ElectEventKind::*;
        let mut c = Candidates::new("ns");
        let mut out = Vec::new();
        c.join(&kv("/p/a", "a", 2), 2, &mut out);
        c.join(&kv("/p/b", "b", 3), 3, &mut out);
        assert_eq!(kinds(&out), [(Joined, "a"), (Elected, "a"), (Joined, "b")]);
        out.clear();
        // During the gap: a left, c joined.
        let range = Range {
            kvs: vec![kv("/p/b", "b", 3), kv("/p/c", "c", 9)],
            revision: 10,
        };
        c.resync(&range, &mut out);
        assert_eq!(kinds(&out), [(Left, "a"), (Elected, "b"), (Joined, "c")]);
        out.clear();
        c.resync(&range, &mut out);
        assert!(
            out.is_empty(),
            "a second resync of the same state is silent"
        );
    }
}
