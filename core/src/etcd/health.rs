//! Keeps a stalled member out of the client's rotation. etcd-client
//! balances requests over every endpoint and has no health check: a member
//! that accepts connections but never answers (SIGSTOP, a frozen VM, a
//! disk that hangs) keeps getting requests, and each one waits out the
//! request timeout. With more than one endpoint, each member is asked for
//! a serializable read of the probe key every [`PROBE_EVERY`] over a
//! connection of its own; one that has not answered [`MISSES_TO_DROP`]
//! times in a row leaves the rotation (its connection, and the requests
//! waiting on it, are dropped and retried elsewhere) and comes back with
//! its first answer. The last member in the rotation is never taken out.
//!
//! Only silence counts: an error answer (no leader, refused, a member
//! that is down) is an answer, and a member that is down is skipped by the
//! balancer already.

use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions};
use tokio_util::sync::CancellationToken;

/// How often each member is asked.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a member may take to answer one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Unanswered probes in a row that take a member out of the rotation.
const MISSES_TO_DROP: u32 = 2;

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

/// Starts probing `urls` (the client's endpoints) on the current runtime;
/// `None` with a single endpoint (nothing to fail over to).
pub(super) fn start(
    client: &Client,
    urls: Vec<String>,
    connect: ConnectOptions,
    probe_key: String,
) -> Option<Probes> {
    if urls.len() < 2 {
        return None;
    }
    let stop = CancellationToken::new();
    let members = urls.into_iter().map(Member::new).collect();
    let run = probe_until_stopped(client.clone(), members, connect, probe_key, stop.clone());
    drop(tokio::spawn(run));
    Some(Probes { stop })
}

/// One endpoint as the probes see it.
struct Member {
    url: String,
    /// A client connected to this member alone (made on first use).
    own: Option<Client>,
    misses: u32,
    out_of_rotation: bool,
}

impl Member {
    fn new(url: String) -> Self {
        Member {
            url,
            own: None,
            misses: 0,
            out_of_rotation: false,
        }
    }
}

async fn probe_until_stopped(
    client: Client,
    mut members: Vec<Member>,
    connect: ConnectOptions,
    probe_key: String,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
        let asked = members
            .iter_mut()
            .map(|member| answers(member, &connect, &probe_key));
        let answered = tokio::select! {
            () = stop.cancelled() => return,
            answered = futures_util::future::join_all(asked) => answered,
        };
        for (i, answered) in answered.into_iter().enumerate() {
            let in_rotation = members.iter().filter(|m| !m.out_of_rotation).count();
            let member = &mut members[i];
            if answered {
                member.misses = 0;
                if member.out_of_rotation && client.add_endpoint(&member.url).await.is_ok() {
                    member.out_of_rotation = false;
                    tracing::warn!(endpoint = %member.url, "etcd member answers again: back in rotation");
                }
                continue;
            }
            member.misses += 1;
            // Its own connection may be the stalled one: a fresh one next time.
            member.own = None;
            if member.misses >= MISSES_TO_DROP
                && !member.out_of_rotation
                && in_rotation > 1
                && client.remove_endpoint(&member.url).await.is_ok()
            {
                member.out_of_rotation = true;
                tracing::warn!(
                    endpoint = %member.url,
                    "etcd member has not answered {MISSES_TO_DROP} probes: out of rotation until it does"
                );
            }
        }
    }
}

/// Whether `member` answers a serializable read (served by the member
/// itself, without the leader) within [`PROBE_TIMEOUT`]; an error answer
/// counts as an answer.
async fn answers(member: &mut Member, connect: &ConnectOptions, probe_key: &str) -> bool {
    let asked = async {
        let own = match &member.own {
            Some(own) => own.clone(),
            None => {
                let own = Client::connect([member.url.as_str()], Some(connect.clone())).await?;
                member.own = Some(own.clone());
                own
            }
        };
        let read = GetOptions::new().with_serializable().with_count_only();
        own.kv_client().get(probe_key, Some(read)).await.map(drop)
    };
    // Refused, unauthenticated, no leader: the member is running.
    tokio::time::timeout(PROBE_TIMEOUT, asked).await.is_ok()
}
