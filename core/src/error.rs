//! One error type for the whole crate (SPEC §6): a [`ErrorKind`] every
//! language maps to its own error classes, and a message that names what the
//! caller gave. Messages never contain a password, token or key material.

use std::fmt;

/// What went wrong, in the same words in every language binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument or option is not acceptable (empty id, NUL, id over 1 KiB,
    /// TTL under 1 s, bad option, ...).
    InvalidArgument,
    /// `LockWait` ran out before the lock was acquired (vine's `ErrLockTimeout`).
    LockTimeout,
    /// `try_lock` found the lock held by someone else.
    WouldBlock,
    /// `unlock` of an id this handle does not hold.
    NotLocked,
    /// The namespace has no live candidate.
    NoLeader,
    /// The caller cancelled the operation.
    Cancelled,
    /// The backend (etcd) could not be reached before the caller's deadline.
    Unavailable,
    /// The lease or the key behind a lock or a candidacy is gone.
    Lost,
    /// The handle was closed.
    Closed,
    /// The backend rejected the credentials.
    Unauthenticated,
    /// The credentials are valid but lack a permission.
    PermissionDenied,
    /// A bug or an unexpected answer from the backend.
    Internal,
}

impl ErrorKind {
    /// A stable snake_case name, used by the bindings and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::LockTimeout => "lock_timeout",
            ErrorKind::WouldBlock => "would_block",
            ErrorKind::NotLocked => "not_locked",
            ErrorKind::NoLeader => "no_leader",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Lost => "lost",
            ErrorKind::Closed => "closed",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cause of an [`Error`] (a gRPC status, an I/O error, ...).
pub type Source = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The error returned by every fallible vinesync operation.
///
/// `Display` gives the kind and the message (`"lock_timeout: lock \"x\"
/// not acquired within 2s"`); [`std::error::Error::source`] gives the
/// underlying cause when there is one (the etcd client's error, an I/O
/// error reading a TLS file). Two errors are equal when their kinds and
/// messages are.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for Error {}

impl Error {
    /// Builds an error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error with `source` as its cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the kind (never contains secrets).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn closed() -> Self {
        Error::new(ErrorKind::Closed, "the sync handle is closed")
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// `vine`'s `ErrLockTimeout` text is "lock timeout"; we keep it as the
    /// start of the message so vine users grepping logs still find it.
    pub(crate) fn lock_timeout(id: &str, wait: std::time::Duration) -> Self {
        Error::new(
            ErrorKind::LockTimeout,
            format!("lock timeout: lock {id:?} not acquired within {wait:?}"),
        )
    }
}

/// Shorthand for `Result<T, vinesync::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_shows_the_kind_and_source_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::new(ErrorKind::InvalidArgument, "reading the CA file").with_source(io);
        assert_eq!(error.to_string(), "invalid_argument: reading the CA file");
        assert_eq!(
            error.source().map(|s| s.to_string()).as_deref(),
            Some("no such file")
        );
        assert_eq!(error.clone(), error);
    }
}
