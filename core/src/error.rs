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

/// The error returned by every fallible vinesync operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Builds an error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message (never contains secrets).
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
