//! etcd errors → vinesync error kinds, and the retry loop that turns
//! transient failures into `Unavailable` only once the deadline has passed.
//! Messages name the operation and the endpoints, never credentials.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::health::Departures;
use crate::clock::deadline_after;

use crate::error::{Error, ErrorKind, Result};

/// What to do with an etcd error.
pub(super) enum Class {
    /// Worth retrying until the deadline (connection, leader change, ...).
    Transient(String),
    /// Final: report it with this kind.
    Final(ErrorKind, String),
}

pub(super) fn classify(error: &etcd_client::Error) -> Class {
    use etcd_client::Error as E;
    use tonic::Code;
    match error {
        E::GRpcStatus(status) => {
            // Classified by etcd's own words; reported with the cause the
            // client kept beneath them.
            let raw = status.message();
            let message = with_cause(raw, status);
            match status.code() {
                // A full database (the NOSPACE alarm, which a default etcd
                // without auto-compaction reaches in time) refuses every
                // write until an operator frees space: retrying the request
                // cannot help, so it is reported at once, with the remedy.
                // A `lock` still retries it like an outage (until its
                // LockWait), so it proceeds once the alarm is disarmed.
                Code::ResourceExhausted if raw.contains("database space exceeded") => {
                    Class::Final(ErrorKind::Unavailable, no_space(&message))
                }
                // ResourceExhausted: etcd's "too many requests" while it
                // catches up; retried like an outage.
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Aborted
                | Code::Cancelled
                | Code::ResourceExhausted => Class::Transient(message),
                // etcd answers many passing server-side conditions with
                // Unknown ("raft proposal dropped", "request timed out", ...).
                Code::Unknown => Class::Transient(message),
                // Before the words below: "connection error detected" is
                // a protocol violation, not a closed connection.
                Code::Internal
                    if raw.starts_with("h2 protocol error") && !h2_error_is_transient(raw) =>
                {
                    Class::Final(ErrorKind::Internal, message)
                }
                Code::Internal
                    if raw.contains("leader")
                        || raw.contains("timed out")
                        || raw.contains("transport")
                        || raw.contains("connection")
                        || h2_error_is_transient(raw) =>
                {
                    Class::Transient(message)
                }
                Code::NotFound if raw.contains("lease not found") => {
                    Class::Final(ErrorKind::Lost, message)
                }
                Code::Unauthenticated => Class::Final(ErrorKind::Unauthenticated, message),
                Code::PermissionDenied => Class::Final(ErrorKind::PermissionDenied, message),
                Code::InvalidArgument if raw.contains("authentication failed") => {
                    Class::Final(ErrorKind::Unauthenticated, message)
                }
                // Credentials given to an etcd that has authentication
                // off: a configuration mistake, not an etcd fault.
                Code::FailedPrecondition if raw.contains("authentication is not enabled") => {
                    Class::Final(
                        ErrorKind::InvalidArgument,
                        format!(
                            "{message} (a user and password were given, but this etcd does not \
                             check them: leave them out, or enable authentication on etcd)"
                        ),
                    )
                }
                Code::FailedPrecondition if raw.contains("user name is empty") => {
                    Class::Final(ErrorKind::Unauthenticated, message)
                }
                _ => Class::Final(
                    ErrorKind::Internal,
                    format!("{:?}: {message}", status.code()),
                ),
            }
        }
        E::TransportError(e) => {
            Class::Transient(format!("transport: {}", with_cause(&e.to_string(), e)))
        }
        E::IoError(e) => Class::Transient(format!("io: {e}")),
        E::WatchError(e) => Class::Transient(format!("watch: {e}")),
        // Opening a keepalive stream on a revoked or expired lease.
        E::LeaseKeepAliveError(e) if e.contains("lease not found") => {
            Class::Final(ErrorKind::Lost, format!("keepalive: {e}"))
        }
        E::LeaseKeepAliveError(e) => Class::Transient(format!("keepalive: {e}")),
        E::InvalidArgs(e) => Class::Final(ErrorKind::InvalidArgument, e.clone()),
        E::InvalidUri(e) => {
            Class::Final(ErrorKind::InvalidArgument, format!("invalid endpoint: {e}"))
        }
        E::EndpointError(e) => Class::Final(ErrorKind::InvalidArgument, format!("endpoint: {e}")),
        other => Class::Final(ErrorKind::Internal, other.to_string()),
    }
}

/// `message` followed by the deepest cause the client kept beneath it,
/// e.g. "tcp connect error: Connection refused (os error 111)" (the status
/// of a failed connection says only "tcp connect error"; the layers between
/// add nothing a user can act on).
fn with_cause(message: &str, error: &dyn std::error::Error) -> String {
    let mut deepest = None;
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !said.is_empty() {
            deepest = Some(said);
        }
        cause = inner.source();
    }
    match deepest {
        Some(said) if !message.contains(&said) => format!("{message}: {said}"),
        _ => message.to_string(),
    }
}

/// The message of etcd's NOSPACE refusal, with what an operator does about
/// it (etcd's "maintenance" documentation: compact, defragment, disarm).
fn no_space(message: &str) -> String {
    format!(
        "etcd refuses writes, its database is full ({message}; alarm NOSPACE): \
         free space by compacting and defragmenting etcd, then run `etcdctl alarm disarm`; \
         enable etcd's --auto-compaction-retention to prevent it"
    )
}

/// Converts a final error, naming the operation; the etcd client's error
/// is kept as the source.
pub(super) fn to_error(what: &str, error: etcd_client::Error) -> Error {
    let converted = match classify(&error) {
        Class::Final(kind, message) => Error::new(kind, format!("{what}: {message}")),
        Class::Transient(message) => {
            Error::new(ErrorKind::Unavailable, format!("{what}: {message}"))
        }
    };
    converted.with_source(error)
}

/// Runs `op` until it succeeds, fails for good, or `timeout` passes (then
/// `Unavailable`, with the last failure and the endpoints in the message).
/// `what` names the operation; it is formatted only on a failure (not on
/// every request's success path). An attempt still waiting when a member
/// leaves the rotation ([`Departures`]) may be waiting on that member: it
/// is sent again at once, and its first send may still land later (the
/// callers handle a write sent more than once).
pub(super) async fn retry<T, F, Fut>(
    what: impl Fn() -> String,
    endpoints: &str,
    timeout: Duration,
    departures: &Departures,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let deadline = deadline_after(timeout);
    let mut delay = Duration::from_millis(25);
    let mut last = String::new();
    let mut last_error: Option<etcd_client::Error> = None;
    let unavailable = |last: &str, cause: Option<etcd_client::Error>| {
        let error = Error::new(
            ErrorKind::Unavailable,
            format!(
                "{}: etcd at {endpoints} unavailable for {timeout:?} (last error: {last})",
                what()
            ),
        );
        match cause {
            Some(cause) => error.with_source(cause),
            None => error,
        }
    };
    loop {
        let started = Instant::now();
        let remaining = deadline.saturating_duration_since(started);
        let attempt = tokio::time::timeout(remaining, op());
        let mut departures = departures.seen_so_far();
        let answered = tokio::select! {
            biased;
            answered = attempt => answered,
            () = departures.departed() => {
                last = "an etcd member left the rotation while the request waited".to_string();
                tracing::debug!(what = what(), "etcd member left the rotation; sending again");
                continue;
            }
        };
        match answered {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => match classify(&error) {
                Class::Final(kind, message) => {
                    return Err(
                        Error::new(kind, format!("{}: {message}", what())).with_source(error)
                    )
                }
                Class::Transient(message) => {
                    last = message;
                    last_error = Some(error);
                }
            },
            // The deadline passed during this attempt: it stalled. What an
            // earlier attempt got ("Connection refused") is kept beside it.
            Err(_elapsed) => {
                let ran = Duration::from_millis(
                    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                );
                // The earlier error stays the returned error's source.
                last = match &last_error {
                    Some(_) => format!("no answer for {ran:?}; before that: {last}"),
                    None => format!("no answer within {timeout:?}"),
                };
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(unavailable(&last, last_error));
        }
        tracing::debug!(what = what(), %last, "etcd request failed; retrying");
        tokio::time::sleep(delay.min(remaining)).await;
        delay = (delay * 2).min(Duration::from_millis(500));
        // No attempt without time left to answer: it would only report
        // "no answer" for an etcd that was never given the chance.
        if Instant::now() >= deadline {
            return Err(unavailable(&last, last_error));
        }
    }
}

/// Whether tonic's `h2 protocol error: …` is worth a retry: the peer
/// closed the connection or the stream under the request (GOAWAY or
/// RST_STREAM received: an etcd restarting) or an I/O error ended it. A
/// protocol violation detected on this side (a server that does not speak
/// HTTP/2 as etcd does) would only happen again: not retried.
fn h2_error_is_transient(raw: &str) -> bool {
    let Some(detail) = raw.strip_prefix("h2 protocol error: ") else {
        return false;
    };
    detail.contains(" error received: ")
        || !(detail.contains(" error detected: ")
            || detail.contains(" sent by user: ")
            || detail.starts_with("protocol error: ")
            || detail.starts_with("user error: "))
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn status(code: tonic::Code, message: &str) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, message))
    }

    #[test]
    fn any_timeout_gives_a_deadline_without_overflow() {
        let now = Instant::now();
        for timeout in [Duration::ZERO, Duration::from_secs(5), Duration::MAX] {
            assert!(deadline_after(timeout) >= now);
        }
        assert!(deadline_after(Duration::MAX) > now + Duration::from_secs(3600 * 24 * 365));
    }

    #[test]
    fn too_many_requests_is_retried_not_internal() {
        let error = status(
            tonic::Code::ResourceExhausted,
            "etcdserver: too many requests",
        );
        assert!(matches!(classify(&error), Class::Transient(_)));
    }

    #[test]
    fn a_full_database_is_reported_at_once_with_the_remedy() {
        let error = status(
            tonic::Code::ResourceExhausted,
            "etcdserver: mvcc: database space exceeded",
        );
        match classify(&error) {
            Class::Final(ErrorKind::Unavailable, message) => {
                assert!(message.contains("database space exceeded"), "{message}");
                assert!(message.contains("etcdctl alarm disarm"), "{message}");
            }
            _ => panic!("a full database is not retried by the request"),
        }
    }

    #[test]
    fn keepalive_on_a_revoked_lease_is_a_loss() {
        let error = etcd_client::Error::LeaseKeepAliveError("lease not found".into());
        assert!(matches!(classify(&error), Class::Final(ErrorKind::Lost, _)));
    }

    /// A status the client made for a failed connection, with the
    /// operating system's error beneath it.
    fn refused() -> etcd_client::Error {
        let mut status = tonic::Status::new(tonic::Code::Unavailable, "tcp connect error");
        status.set_source(std::sync::Arc::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        )));
        etcd_client::Error::GRpcStatus(status)
    }

    #[test]
    fn the_deepest_cause_is_reported_but_not_classified() {
        match classify(&refused()) {
            Class::Transient(message) => assert_eq!(
                message,
                "tcp connect error: Connection refused (os error 111)"
            ),
            Class::Final(..) => panic!("a refused connection is retried"),
        }
        // An Internal status is retried for etcd's words only, not for
        // words of the cause beneath it.
        let mut internal = tonic::Status::new(tonic::Code::Internal, "bad frame");
        internal.set_source(std::sync::Arc::new(std::io::Error::other(
            "connection state",
        )));
        let error = etcd_client::Error::GRpcStatus(internal);
        assert!(matches!(
            classify(&error),
            Class::Final(ErrorKind::Internal, _)
        ));
        // tonic's words for a connection closed under the request (the
        // peer's GOAWAY or RST_STREAM, an I/O error) are retried; for a
        // protocol violation seen here, not.
        for closed in [
            "h2 protocol error: http2 error",
            "h2 protocol error: connection error received: not a result of an error",
            "h2 protocol error: stream error received: refused stream before processing any application logic",
            "h2 protocol error: broken pipe",
        ] {
            let error = status(tonic::Code::Internal, closed);
            assert!(matches!(classify(&error), Class::Transient(_)), "{closed}");
        }
        for violation in [
            "h2 protocol error: connection error detected: frame with invalid size",
            "h2 protocol error: stream error detected: flow-control protocol violated",
            "h2 protocol error: protocol error: unspecific protocol error detected",
        ] {
            let error = status(tonic::Code::Internal, violation);
            assert!(
                matches!(classify(&error), Class::Final(ErrorKind::Internal, _)),
                "{violation}"
            );
        }
    }

    /// A member leaves the rotation (`health.rs`) while a request waits on
    /// it: the request is sent again at once, not after its timeout; a
    /// departure before it was sent does not count.
    #[tokio::test]
    async fn a_request_waiting_when_a_member_leaves_the_rotation_is_sent_again() {
        let (announce, departures) = Departures::announced_by_test();
        // Before the request: not a reason to send it again.
        announce.send_modify(|count| *count += 1);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let asked = retry(
            || "lock".to_string(),
            "127.0.0.1:1",
            Duration::from_secs(60),
            &departures,
            || {
                let call = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async move {
                    match call {
                        // On the member about to leave: never answers.
                        0 => std::future::pending().await,
                        n => Ok::<_, etcd_client::Error>(n),
                    }
                }
            },
        );
        let depart = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
            announce.send_modify(|count| *count += 1);
        };
        let (answer, ()) =
            tokio::join!(tokio::time::timeout(Duration::from_secs(10), asked), depart);
        let answer = answer.expect("still waiting on the member that left");
        assert_eq!(answer.unwrap(), 1, "not the second send's answer");
    }

    /// An etcd that refused, then accepted a request and never answered:
    /// the report says it stalled, and what came before.
    #[tokio::test(start_paused = true)]
    async fn a_stall_after_errors_is_reported_as_a_stall() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let error = retry(
            || "lock".to_string(),
            "127.0.0.1:1",
            Duration::from_secs(2),
            &Departures::none(),
            || {
                let first = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
                async move {
                    if first {
                        Err(refused())
                    } else {
                        std::future::pending::<std::result::Result<(), _>>().await
                    }
                }
            },
        )
        .await
        .unwrap_err();
        let message = error.message();
        assert!(message.contains("no answer for"), "{message}");
        assert!(
            message.contains("before that: tcp connect error: Connection refused"),
            "{message}"
        );
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert!(
            source
                .as_deref()
                .is_some_and(|s| s.contains("Connection refused")),
            "the refusal is not the error's source: {source:?}"
        );
        // Only refusals: the last one is reported, with no stall invented.
        let error = retry(
            || "lock".to_string(),
            "127.0.0.1:1",
            Duration::from_secs(2),
            &Departures::none(),
            || async { Err::<(), _>(refused()) },
        )
        .await
        .unwrap_err();
        assert!(
            error
                .message()
                .ends_with("(last error: tcp connect error: Connection refused (os error 111))"),
            "{error}"
        );
    }
}
