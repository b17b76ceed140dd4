//! Keeps a stalled member out of the client's rotation. etcd-client
//! balances requests over every endpoint and has no health check: a member
//! that accepts connections but never answers (SIGSTOP, a frozen VM, a
//! disk that hangs) keeps getting requests, and each one waits out the
//! request timeout. With more than one endpoint, each member is asked for
//! a serializable read of the probe key every [`PROBE_EVERY`] over a
//! connection of its own; one that has not answered [`MISSES_TO_DROP`]
//! times in a row leaves the rotation (no new request goes to it) and
//! comes back with its first answer. The last member in the rotation is never taken out.
//!
//! Only silence counts: an error answer (no leader, refused, a member
//! that is down) is an answer, and a member that is down is skipped by the
//! balancer already. A probe connection is made once per member (with
//! credentials, that is one login per member and handle) and kept: HTTP/2
//! reconnects it as needed. One that cannot be made (refused credentials,
//! say) is tried again after [`RECONNECT_AFTER`], the member counted as
//! answering meanwhile.
//!
//! A request or stream already waiting on a member when it stalls would
//! still wait out its timeout (or the HTTP/2 ping, for a stream). When a
//! member leaves the rotation, [`Departures`] tells every one of them: a
//! request is sent again (see `errors::retry`: a resend whose first send
//! may have landed is handled like any retried write; a write that a late
//! first send could undo is not sent again), a watch or a keepalive stream
//! is reopened, each on a member still in rotation.

use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often each member is asked.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a member may take to answer one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Unanswered probes in a row that take a member out of the rotation.
const MISSES_TO_DROP: u32 = 2;
/// How long after a failed probe connection the next one is tried.
const RECONNECT_AFTER: Duration = Duration::from_secs(60);
/// How long a change of the rotation may wait for etcd-client to take it
/// (its queue is read only as the handle sends requests).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(1);

/// Stops the probes when the store is dropped.
#[derive(Debug)]
pub(super) struct Probes {
    stop: CancellationToken,
}

impl Drop for Probes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Tells whoever waits on an etcd answer that a member left the rotation
/// (see the module's doc). Each copy remembers which departures it has
/// seen; the store keeps one that never looks.
#[derive(Clone, Debug)]
pub(super) struct Departures(watch::Receiver<u64>);

impl Departures {
    /// Departures that never come (a single endpoint, or no store yet).
    pub fn none() -> Self {
        Departures(watch::channel(0).1)
    }

    /// A copy that has seen every departure so far.
    pub fn seen_so_far(&self) -> Departures {
        let mut copy = self.0.clone();
        copy.mark_unchanged();
        Departures(copy)
    }

    /// Resolves once a member has left the rotation that this copy has not
    /// seen (then it has); never once the probes have stopped.
    pub async fn departed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Whether a member left the rotation that this copy has not seen.
    pub fn has_departed(&self) -> bool {
        self.0.has_changed().unwrap_or(false)
    }

    /// Departures a test announces itself (a count, as the probes keep).
    #[cfg(test)]
    pub fn announced_by_test() -> (watch::Sender<u64>, Departures) {
        let (announce, departures) = watch::channel(0);
        (announce, Departures(departures))
    }
}

/// Starts probing `urls` (the client's endpoints) on the current runtime;
/// no probes with a single endpoint (nothing to fail over to).
pub(super) fn start(
    client: &Client,
    urls: Vec<String>,
    connect: ConnectOptions,
    dial_timeout: Duration,
    probe_key: String,
) -> (Option<Probes>, Departures) {
    if urls.len() < 2 {
        return (None, Departures::none());
    }
    let stop = CancellationToken::new();
    let (departed, departures) = watch::channel(0);
    let members = urls.into_iter().map(Member::new).collect();
    let asking = Asking {
        connect,
        dial_timeout,
        probe_key,
    };
    let run = probe_until_stopped(client.clone(), members, asking, departed, stop.clone());
    drop(tokio::spawn(run));
    (Some(Probes { stop }), Departures(departures))
}

/// How a member is asked.
struct Asking {
    connect: ConnectOptions,
    dial_timeout: Duration,
    probe_key: String,
}

/// One endpoint as the probes see it.
struct Member {
    url: String,
    /// A client connected to this member alone (made on first use, kept).
    own: Option<Client>,
    /// No probe connection before this (the last attempt failed).
    connect_after: Option<tokio::time::Instant>,
    misses: u32,
    out_of_rotation: bool,
}

impl Member {
    fn new(url: String) -> Self {
        Member {
            url,
            own: None,
            connect_after: None,
            misses: 0,
            out_of_rotation: false,
        }
    }
}

async fn probe_until_stopped(
    client: Client,
    mut members: Vec<Member>,
    asking: Asking,
    departed: watch::Sender<u64>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
        let asked = members.iter_mut().map(|member| answers(member, &asking));
        let answered = tokio::select! {
            () = stop.cancelled() => return,
            answered = futures_util::future::join_all(asked) => answered,
        };
        for (i, answered) in answered.into_iter().enumerate() {
            let in_rotation = members.iter().filter(|m| !m.out_of_rotation).count();
            let member = &mut members[i];
            if answered {
                member.misses = 0;
            } else {
                member.misses += 1;
            }
            let change = if answered && member.out_of_rotation {
                Change::Back
            } else if member.misses >= MISSES_TO_DROP && !member.out_of_rotation && in_rotation > 1
            {
                Change::Out
            } else {
                continue;
            };
            let changed = tokio::select! {
                () = stop.cancelled() => return,
                changed = tokio::time::timeout(CHANGE_TIMEOUT, change.apply(&client, &member.url)) => {
                    matches!(changed, Ok(Ok(())))
                }
            };
            // Not taken (etcd-client's queue is full): tried again next round.
            if changed {
                member.out_of_rotation = change == Change::Out;
                match change {
                    Change::Out => {
                        tracing::warn!(
                            endpoint = %member.url,
                            "etcd member has not answered {MISSES_TO_DROP} probes: out of rotation until it does"
                        );
                        // After the removal is queued: what is sent again
                        // goes to the members left.
                        departed.send_modify(|count| *count += 1);
                    }
                    Change::Back => tracing::warn!(
                        endpoint = %member.url,
                        "etcd member answers again: back in rotation"
                    ),
                }
            }
        }
    }
}

/// A change of the client's rotation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Out,
    Back,
}

impl Change {
    async fn apply(self, client: &Client, url: &str) -> Result<(), etcd_client::Error> {
        match self {
            Change::Out => client.remove_endpoint(url).await,
            Change::Back => client.add_endpoint(url).await,
        }
    }
}

/// Whether `member` answers a serializable read (served by the member
/// itself, without the leader) within [`PROBE_TIMEOUT`]; an error answer
/// counts as an answer. Its probe connection is made first if needed,
/// within the dial timeout.
async fn answers(member: &mut Member, asking: &Asking) -> bool {
    let own = match &member.own {
        Some(own) => own.clone(),
        None => {
            let now = tokio::time::Instant::now();
            if member.connect_after.is_some_and(|after| now < after) {
                return true;
            }
            let connecting = Client::connect([member.url.as_str()], Some(asking.connect.clone()));
            match tokio::time::timeout(asking.dial_timeout, connecting).await {
                Ok(Ok(own)) => {
                    member.connect_after = None;
                    member.own = Some(own.clone());
                    own
                }
                // Refused (credentials, TLS): the member answered.
                Ok(Err(_)) => {
                    member.connect_after = Some(now + RECONNECT_AFTER);
                    return true;
                }
                Err(_) => return false,
            }
        }
    };
    let read = GetOptions::new().with_serializable().with_count_only();
    let mut kv = own.kv_client();
    let asked = kv.get(asking.probe_key.as_str(), Some(read));
    // Refused, unauthenticated, no leader: the member is running.
    tokio::time::timeout(PROBE_TIMEOUT, asked).await.is_ok()
}
