"""vinesync: distributed locks and leader election with the names of the vine
framework's ``Sync`` interface, on etcd or on an in-process memory store.

    import vinesync

    s = vinesync.Sync.memory()            # or vinesync.Sync.etcd(["127.0.0.1:2379"])
    with s.lock("lock1", ttl=3) as guard:  # released when the block ends
        print("locked, fencing token", guard.fencing_token)

Blocking calls release the GIL and honour Ctrl-C; every one has an asyncio
twin (``lock_async``, ``leader_async``, ...). Errors are subclasses of
:class:`vinesync.Error`, one per kind.
"""

from __future__ import annotations

import atexit

from ._errors import (
    Cancelled,
    Closed,
    Error,
    Internal,
    InvalidArgument,
    LockTimeout,
    Lost,
    NoLeader,
    NotLocked,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    WouldBlock,
)
from ._native import (
    ElectEvent,
    ElectWatcher,
    Leader,
    LockEntry,
    LockGuard,
    LockInfo,
    Member,
    Observer,
    ObserveResult,
    Options,
    StatusStream,
    Sync,
    __version__,
    _shutdown,
)

# Release this process's locks and candidacies when the interpreter exits
# (bounded: at most a couple of seconds when etcd is unreachable).
atexit.register(_shutdown)

__all__ = [
    "Sync",
    "LockGuard",
    "Leader",
    "Member",
    "LockInfo",
    "LockEntry",
    "ElectEvent",
    "ObserveResult",
    "Options",
    "ElectWatcher",
    "Observer",
    "StatusStream",
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
    "__version__",
]
