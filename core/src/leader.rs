//! A candidacy (SPEC E1–E6): the candidate key is written before `leader()`
//! returns; campaigning (waiting for the predecessors to go) continues in a
//! background task that reports through [`Leader::status`].
//!
//! A candidacy ends for good when its key goes (resign, lease lost, deleted
//! by someone else); to run again, call `leader()` again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::feed::{self, Feed, Observer};
use crate::member::{Member, Role};
use crate::queue;
use crate::session::{self, Session};
use crate::store::{RangeOptions, Store};
use crate::vine_primary::VinePrimary;

/// Where a candidacy stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CandidateState {
    primary: bool,
    was_primary: bool,
    ended: bool,
    /// The candidacy ended by `resign` (not lost).
    resigned: bool,
}

pub(crate) struct Candidate {
    pub name: String,
    pub namespace: String,
    pub id: String,
    /// Our candidate key, shared with the campaign and its cleanups.
    pub key: Arc<str>,
    pub revision: i64,
    pub dir: String,
    pub session: Arc<Session>,
    state: watch::Sender<CandidateState>,
    task: tokio::task::AbortHandle,
    /// Set once `resign` has deleted the key.
    resigned: AtomicBool,
    /// The handle's: cancelled once it is closed (SPEC H1).
    closing: tokio_util::sync::CancellationToken,
}

impl Candidate {
    /// Starts the background campaign for a key that `create` just wrote.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        session: Arc<Session>,
        name: String,
        namespace: String,
        id: String,
        key: Arc<str>,
        revision: i64,
        dir: String,
        first_is_ours: bool,
        vine_primary: Option<VinePrimary>,
        closing: tokio_util::sync::CancellationToken,
    ) -> Arc<Candidate> {
        let (state, _) = watch::channel(CandidateState::default());
        let span = tracing::debug_span!("campaign", %namespace, %id, %key);
        let task = tokio::spawn(tracing::Instrument::instrument(
            campaign(
                session.clone(),
                dir.clone(),
                key.clone(),
                revision,
                first_is_ours,
                vine_primary,
                state.clone(),
            ),
            span,
        ));
        Arc::new(Candidate {
            name,
            namespace,
            id,
            key,
            revision,
            dir,
            session,
            state,
            task: task.abort_handle(),
            resigned: AtomicBool::new(false),
            closing,
        })
    }

    fn end(&self) {
        self.state.send_modify(|s| {
            s.primary = false;
            s.ended = true;
        });
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn campaign(
    session: Arc<Session>,
    dir: String,
    key: Arc<str>,
    revision: i64,
    first_is_ours: bool,
    vine_primary: Option<VinePrimary>,
    state: watch::Sender<CandidateState>,
) {
    let backend = session.backend().clone();
    let mut lost = session.lost_signal();
    let own_key_deleted = queue::wait_for_delete(&backend, &key, revision);
    tokio::pin!(own_key_deleted);
    let elected = async {
        if first_is_ours {
            return true;
        }
        loop {
            match queue::wait_for_turn(&backend, &dir, &key, revision, None).await {
                Ok(ours) => return ours,
                Err(error) if error.kind() == ErrorKind::Unavailable => {
                    tracing::debug!(%key, %error, "campaign waiting for the store");
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Err(error) => {
                    tracing::warn!(%key, %error, "campaign failed");
                    return false;
                }
            }
        }
    };
    let won = tokio::select! {
        biased;
        _ = session::wait_lost(&mut lost) => false,
        _ = &mut own_key_deleted => false,
        won = elected => won,
    };
    // Under the vine layout a winner first tells vine processes (vine's
    // `primary/{ns}` key): one write guarded on our candidate key, raced
    // against the end of the candidacy; a failed write does not stop it
    // from being primary (as in vine). The key is never deleted.
    let won = match (&vine_primary, won && !session.is_lost()) {
        (Some(primary), true) => tokio::select! {
            biased;
            _ = session::wait_lost(&mut lost) => false,
            _ = &mut own_key_deleted => false,
            still_ours = primary.claim(&backend, &key, revision) => still_ours,
        },
        (_, won) => won,
    };
    // Never primary on a lease the keepalive already gave up.
    if won && !session.is_lost() {
        state.send_modify(|s| {
            s.primary = true;
            s.was_primary = true;
        });
        tokio::select! {
            _ = &mut own_key_deleted => {}
            _ = session::wait_lost(&mut lost) => {}
        }
    }
    state.send_modify(|s| {
        s.primary = false;
        s.ended = true;
    });
    // A candidacy that ends for any reason but `resign` (which aborts this
    // task) removes its own key: a failed campaign must not stay first in
    // the queue behind a live lease (SPEC E2, E3, H3).
    if !session.is_lost() {
        queue::delete_until_gone(session.clone(), key.clone()).await;
    }
}

/// A candidate in an election (vine's `sync.Leader`), returned by
/// [`crate::Client::leader`].
///
/// **Drop.** Dropping it resigns on a background task of the handle (the
/// candidate key is deleted, retried until it is gone or its lease ends);
/// [`crate::Client::close`] waits for it. As for guards, call
/// `close().await` before the runtime shuts down.
#[derive(Debug)]
pub struct Leader {
    candidate: Arc<Candidate>,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("id", &self.id)
            .field("key", &self.key)
            .finish()
    }
}

impl Leader {
    pub(crate) fn new(candidate: Arc<Candidate>) -> Self {
        Leader { candidate }
    }

    fn backend(&self) -> &Backend {
        self.candidate.session.backend()
    }

    /// `Closed` once the handle that made this leader is closed: the
    /// candidacy ended with it (SPEC H1).
    fn check_open(&self) -> Result<()> {
        if self.candidate.closing.is_cancelled() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    /// This candidate's id (`LeaderId`).
    pub fn id(&self) -> &str {
        &self.candidate.id
    }

    /// The election name given to `leader`.
    pub fn name(&self) -> &str {
        &self.candidate.name
    }

    /// The namespace (`LeaderNS`).
    pub fn namespace(&self) -> &str {
        &self.candidate.namespace
    }

    /// The candidate key in the store.
    pub fn key(&self) -> &str {
        &self.candidate.key
    }

    /// The candidate key's create revision: a fencing token for the term,
    /// greater than that of every earlier candidate of the namespace.
    pub fn fencing_token(&self) -> u64 {
        u64::try_from(self.candidate.revision).unwrap_or(0)
    }

    /// Whether this candidate is the primary right now.
    pub fn is_primary(&self) -> bool {
        self.primary_in(&self.candidate.state.borrow())
    }

    /// Whether `state` makes this candidate primary. A lost lease, or one
    /// revoked by closing the handle, ends the role at once, before the
    /// campaign task has noticed: by then another candidate may already be
    /// primary.
    fn primary_in(&self, state: &CandidateState) -> bool {
        state.primary && !self.candidate.session.is_lost()
    }

    /// Whether the candidacy has ended (resigned or lost).
    pub fn is_ended(&self) -> bool {
        self.candidate.state.borrow().ended
    }

    /// Resolves when the candidacy is lost: its lease expired, its key was
    /// deleted by someone else, or its campaign failed (the counterpart of
    /// [`crate::LockGuard::lost`]). A primary must stop acting as primary.
    /// After [`Leader::resign`] it never resolves. Cancel-safe.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> vinesync::Result<()> {
    /// use vinesync::{Client, LeaderOptions, Options};
    /// let s = Client::memory(Options::new().prefix("/doc/leader-lost"))?;
    /// let leader = s.leader("svc", LeaderOptions::new()).await?;
    /// leader.wait_elected().await?;
    /// tokio::select! {
    ///     _ = leader.lost() => { /* stop serving as primary */ }
    ///     _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
    /// }
    /// leader.resign().await
    /// # }
    /// ```
    pub async fn lost(&self) {
        let mut state = self.candidate.state.subscribe();
        if state.wait_for(|s| s.ended && !s.resigned).await.is_err() {
            std::future::pending::<()>().await;
        }
        if state.borrow().resigned {
            std::future::pending::<()>().await;
        }
    }

    /// Changes the `leader` value other processes see for this candidate
    /// (Go's `Election.Proclaim`): `list_members`, `primary` and observers
    /// show the new name; `watch_elect` and `observe` announce a primary
    /// that proclaims again. [`Leader::name`] stays the name given to
    /// `leader`. `Err(Lost)` if the candidacy is gone.
    ///
    /// Cancel-safe in that dropping the future sends nothing more; an
    /// update already sent may or may not apply (it is one transaction that
    /// only applies while the candidacy's key is still its own).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> vinesync::Result<()> {
    /// use vinesync::{Client, LeaderOptions, MemberOptions, Options};
    /// let s = Client::memory(Options::new().prefix("/doc/proclaim"))?;
    /// let leader = s.leader("10.0.0.1:8080", LeaderOptions::new()).await?;
    /// leader.proclaim("10.0.0.2:8080").await?;
    /// let members = s.list_members(MemberOptions::new()).await?;
    /// assert_eq!(members[0].leader, "10.0.0.2:8080");
    /// leader.resign().await
    /// # }
    /// ```
    pub async fn proclaim(&self, name: &str) -> Result<()> {
        self.check_open()?;
        crate::options::check_text("leader name", name)?;
        let c = &self.candidate;
        let value = serde_json::to_vec(&crate::keys::MemberValue {
            leader: name.to_string(),
            id: c.id.clone(),
            namespace: c.namespace.clone(),
            role: String::new(),
        })
        .map_err(|e| Error::internal(format!("encoding the member value: {e}")))?;
        if self.is_ended() {
            return Err(queue::key_gone("candidate", &c.key));
        }
        if c.session
            .backend()
            .update_owned(&c.key, c.revision, value)
            .await?
        {
            Ok(())
        } else {
            Err(queue::key_gone("candidate", &c.key))
        }
    }

    /// Gives up the candidacy (SPEC E4): deletes the candidate key, so the
    /// next candidate becomes primary within one watch round trip.
    /// Idempotent.
    ///
    /// Runs to completion in the background (SPEC H2): dropping this future
    /// does not abort it, and if etcd does not answer within the request
    /// timeout the error is returned while the key is still deleted in the
    /// background (or expires with its lease).
    pub async fn resign(&self) -> Result<()> {
        let c = &self.candidate;
        // Closing the handle ended the candidacy already (SPEC H1).
        self.check_open()?;
        c.state.send_modify(|s| s.resigned = true);
        c.end();
        c.task.abort();
        // If this future is dropped before the delete has answered, or the
        // delete fails, the cleanup deletes the key in the background.
        let pending = queue::KeyCleanup::new(c.session.clone(), c.key.clone());
        // Under the vine layout, vine's primary key stays (vine never
        // deletes it); the aborted task may still have a claim of it in
        // flight, but that write is guarded on our key, so once the delete
        // below is applied a late claim changes nothing.
        c.session.backend().delete_owned(&c.key, c.revision).await?;
        pending.disarm();
        c.resigned.store(true, Ordering::Release);
        Ok(())
    }

    /// The namespace's current primary (SPEC E6), or `NoLeader`.
    ///
    /// Cancel-safe: a read.
    pub async fn primary(&self) -> Result<Member> {
        self.check_open()?;
        let first = self
            .backend()
            .range(
                &self.candidate.dir,
                RangeOptions {
                    limit: Some(1),
                    ..RangeOptions::default()
                },
            )
            .await?;
        match first.kvs.into_iter().next() {
            Some(kv) => Ok(Member::from_value(
                crate::keys::parse_member(&kv.key, &kv.value, &self.candidate.namespace),
                Role::Primary,
            )),
            None => Err(Error::new(
                ErrorKind::NoLeader,
                format!(
                    "election namespace {:?} has no candidate",
                    self.candidate.namespace
                ),
            )),
        }
    }

    /// Every primary of the namespace from now on, starting with the current
    /// one (SPEC E6).
    ///
    /// Cancel-safe: dropping the future (or the observer) stops the watch.
    pub async fn observe(&self) -> Result<Observer> {
        self.check_open()?;
        let feed = Feed::start(
            self.backend().clone(),
            self.candidate.dir.clone(),
            &self.candidate.namespace,
            true,
            self.candidate.closing.clone(),
        )
        .await?;
        Ok(Observer::new(feed))
    }

    /// `true` when this candidate becomes primary, `false` when it stops
    /// being primary (SPEC E3); the stream ends when the candidacy ends.
    pub fn status(&self) -> StatusStream {
        StatusStream::new(self.candidate.state.subscribe())
    }

    /// Blocks until this candidate is primary; `Err(Lost)` if the candidacy
    /// ends first.
    ///
    /// Cancel-safe: waiting does not change the candidacy.
    pub async fn wait_elected(&self) -> Result<()> {
        self.check_open()?;
        let mut state = self.candidate.state.subscribe();
        let outcome = state
            .wait_for(|s| s.primary || s.ended)
            .await
            .map(|s| *s)
            .unwrap_or(CandidateState {
                ended: true,
                ..CandidateState::default()
            });
        let when = if outcome.was_primary {
            "after its term as primary"
        } else {
            "before it was elected"
        };
        if self.primary_in(&outcome) {
            Ok(())
        } else if let Err(closed) = self.check_open() {
            Err(closed)
        } else {
            Err(Error::new(
                ErrorKind::Lost,
                format!(
                    "candidacy {:?} in namespace {:?} ended {when}",
                    self.candidate.id, self.candidate.namespace
                ),
            ))
        }
    }

    /// Members of this candidate's namespace (same as `list_members`).
    ///
    /// Cancel-safe: a read.
    pub async fn members(&self) -> Result<Vec<Member>> {
        self.check_open()?;
        feed::list(
            self.backend(),
            &self.candidate.dir,
            &self.candidate.namespace,
        )
        .await
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let c = self.candidate.clone();
        if c.resigned.load(Ordering::Acquire) || c.session.is_lost() {
            return;
        }
        c.end();
        c.task.abort();
        let session = c.session.clone();
        let key = c.key.clone();
        c.session.spawn_release(async move {
            queue::delete_until_gone(session, key).await;
        });
    }
}

/// [`Leader::status`]'s stream: `true` on election, `false` when the
/// primary role ends; `None` once the candidacy is over. Implements
/// [`futures_core::Stream`]; it holds only the latest state, so nothing is
/// buffered.
pub struct StatusStream {
    /// Fused: asked again after its end, it says `None` again.
    inner: futures_util::stream::Fuse<futures_util::stream::BoxStream<'static, bool>>,
}

impl std::fmt::Debug for StatusStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusStream").finish_non_exhaustive()
    }
}

/// What a status stream has reported so far.
struct StatusCursor {
    state: watch::Receiver<CandidateState>,
    reported_true: bool,
    reported_false: bool,
}

impl StatusCursor {
    async fn next_change(&mut self) -> Option<bool> {
        loop {
            let now = *self.state.borrow_and_update();
            if now.was_primary && !self.reported_true {
                self.reported_true = true;
                return Some(true);
            }
            if self.reported_true && !now.primary && !self.reported_false {
                self.reported_false = true;
                return Some(false);
            }
            if now.ended {
                return None;
            }
            if self.state.changed().await.is_err() {
                return None;
            }
        }
    }
}

impl StatusStream {
    fn new(state: watch::Receiver<CandidateState>) -> Self {
        let cursor = StatusCursor {
            state,
            reported_true: false,
            reported_false: false,
        };
        let stream = futures_util::stream::unfold(cursor, |mut cursor| async move {
            cursor.next_change().await.map(|change| (change, cursor))
        });
        let stream: futures_util::stream::BoxStream<'static, bool> = Box::pin(stream);
        StatusStream {
            inner: futures_util::StreamExt::fuse(stream),
        }
    }

    /// The next status change; the same as [`futures_core::Stream`]'s `next`.
    ///
    /// Cancel-safe: a change not yet returned is returned by the next call.
    pub async fn next(&mut self) -> Option<bool> {
        std::future::poll_fn(|cx| {
            futures_core::Stream::poll_next(std::pin::Pin::new(&mut self.inner), cx)
        })
        .await
    }
}

impl futures_core::FusedStream for StatusStream {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl futures_core::Stream for StatusStream {
    type Item = bool;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<bool>> {
        std::pin::Pin::new(&mut self.inner).poll_next(cx)
    }
}
