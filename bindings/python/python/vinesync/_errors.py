"""vinesync's exceptions: one class per error kind of the contract (SPEC §6),
all under :class:`Error`. ``LockTimeout`` is also a :class:`TimeoutError`
and ``InvalidArgument`` a :class:`ValueError`, so generic handlers catch them.
Messages name what the caller gave and never contain a password or token."""

from __future__ import annotations


class Error(Exception):
    """Base class of every vinesync error; ``kind`` names the error kind."""

    kind: str = "internal"

    @property
    def message(self) -> str:
        return str(self)


class InvalidArgument(Error, ValueError):
    """An argument or option is not acceptable (empty id, TTL < 1 s, ...)."""

    kind = "invalid_argument"


class LockTimeout(Error, TimeoutError):
    """``wait`` ran out before the lock was acquired (vine's ErrLockTimeout)."""

    kind = "lock_timeout"


class WouldBlock(Error):
    """``try_lock`` found the lock held by someone else."""

    kind = "would_block"


class NotLocked(Error):
    """``unlock`` of a lock this handle does not hold."""

    kind = "not_locked"


class NoLeader(Error):
    """The election namespace has no candidate."""

    kind = "no_leader"


class Cancelled(Error):
    """The operation was cancelled."""

    kind = "cancelled"


class Unavailable(Error):
    """etcd could not be reached before the deadline."""

    kind = "unavailable"


class Lost(Error):
    """The lease or key behind a lock or candidacy is gone."""

    kind = "lost"


class Closed(Error):
    """The handle was closed (or made in the parent before ``os.fork()``)."""

    kind = "closed"


class Unauthenticated(Error):
    """etcd rejected the credentials."""

    kind = "unauthenticated"


class PermissionDenied(Error):
    """The credentials lack a permission."""

    kind = "permission_denied"


class Internal(Error):
    """A bug, or an unexpected answer from etcd."""

    kind = "internal"


# Raised and printed as vinesync.LockTimeout, not vinesync._errors.LockTimeout.
for _class in (
    Error,
    InvalidArgument,
    LockTimeout,
    WouldBlock,
    NotLocked,
    NoLeader,
    Cancelled,
    Unavailable,
    Lost,
    Closed,
    Unauthenticated,
    PermissionDenied,
    Internal,
):
    _class.__module__ = "vinesync"
del _class

__all__ = [
    "Error",
    "InvalidArgument",
    "LockTimeout",
    "WouldBlock",
    "NotLocked",
    "NoLeader",
    "Cancelled",
    "Unavailable",
    "Lost",
    "Closed",
    "Unauthenticated",
    "PermissionDenied",
    "Internal",
]
