//! Status codes: `VS_OK` or one per error kind of SPEC §6.

use vinesync::ErrorKind;

/// What every vinesync C function returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum vs_status {
    /// Success: the outputs were written.
    VS_OK = 0,
    /// An argument was NULL, not UTF-8, too long, or otherwise refused.
    VS_INVALID_ARGUMENT = 1,
    /// The lock's wait time ran out (vine's ErrLockTimeout).
    VS_LOCK_TIMEOUT = 2,
    /// try_lock: the lock is held by someone else.
    VS_WOULD_BLOCK = 3,
    /// unlock of an id this handle does not hold.
    VS_NOT_LOCKED = 4,
    /// The election namespace has no candidate.
    VS_NO_LEADER = 5,
    /// The cancel token was fired.
    VS_CANCELLED = 6,
    /// etcd could not be reached in time.
    VS_UNAVAILABLE = 7,
    /// The lease or key behind a lock or candidacy is gone.
    VS_LOST = 8,
    /// The handle (or watcher) is closed.
    VS_CLOSED = 9,
    /// etcd refused the credentials.
    VS_UNAUTHENTICATED = 10,
    /// The credentials lack a permission.
    VS_PERMISSION_DENIED = 11,
    /// A bug or an unexpected answer.
    VS_INTERNAL = 12,
    /// A `*_next` / `*_wait_*` call's own timeout passed with nothing to report.
    VS_TIMED_OUT = 13,
}

impl From<ErrorKind> for vs_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => vs_status::VS_INVALID_ARGUMENT,
            ErrorKind::LockTimeout => vs_status::VS_LOCK_TIMEOUT,
            ErrorKind::WouldBlock => vs_status::VS_WOULD_BLOCK,
            ErrorKind::NotLocked => vs_status::VS_NOT_LOCKED,
            ErrorKind::NoLeader => vs_status::VS_NO_LEADER,
            ErrorKind::Cancelled => vs_status::VS_CANCELLED,
            ErrorKind::Unavailable => vs_status::VS_UNAVAILABLE,
            ErrorKind::Lost => vs_status::VS_LOST,
            ErrorKind::Closed => vs_status::VS_CLOSED,
            ErrorKind::Unauthenticated => vs_status::VS_UNAUTHENTICATED,
            ErrorKind::PermissionDenied => vs_status::VS_PERMISSION_DENIED,
            _ => vs_status::VS_INTERNAL,
        }
    }
}
