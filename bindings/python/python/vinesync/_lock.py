"""``Sync.Lock(id, ttl=)``: a reusable lock object in the style of
:class:`threading.Lock` and redis-py's ``Lock``, over ``Sync.lock``."""

from __future__ import annotations

from types import TracebackType
from typing import Optional

from ._errors import LockTimeout, NotLocked, WouldBlock
from ._native import LockGuard, Sync


class Lock:
    """Lock ``id`` of a :class:`Sync`, acquired and released as often as
    needed. Like ``threading.Lock`` it is not reentrant and any thread may
    release it; unlike it, the lock is distributed (held in etcd with a
    lease of ``ttl`` seconds) and can be lost (:meth:`owned` turns false)."""

    def __init__(self, sync: Sync, id: str, *, ttl: Optional[float] = None) -> None:
        self._sync = sync
        self._id = id
        self._ttl = ttl
        self._guard: Optional[LockGuard] = None

    @property
    def id(self) -> str:
        return self._id

    def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        """Takes the lock: ``True`` once held, ``False`` if ``blocking`` is
        false and it is taken, or ``timeout`` seconds passed first (``None``
        or ``-1``: no limit, as ``threading.Lock``)."""
        if timeout == -1:
            timeout = None
        if not blocking and timeout is not None:
            raise ValueError("can't specify a timeout for a non-blocking call")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout={timeout} is negative (use None or -1 for no limit)")
        try:
            if blocking:
                guard = self._sync.lock(self._id, ttl=self._ttl, wait=timeout)
            else:
                guard = self._sync.try_lock(self._id, ttl=self._ttl)
        except (LockTimeout, WouldBlock):
            return False
        self._guard = guard
        return True

    def release(self) -> None:
        """Releases the lock; ``NotLocked`` if this object does not hold it,
        ``Lost`` if it had been lost meanwhile."""
        guard, self._guard = self._guard, None
        if guard is None:
            raise NotLocked(f"lock {self._id!r}: release of a Lock this object does not hold")
        guard.unlock()

    def owned(self) -> bool:
        """Whether this object holds the lock (and it is not lost)."""
        guard = self._guard
        return guard is not None and guard.state == "held"

    def locked(self) -> bool:
        """Whether anyone holds the lock (unless this object holds it, one
        read of the store: ``Sync.lock_info``, which writes nothing)."""
        return self.owned() or self._sync.lock_info(self._id).holder is not None

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            guard.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        state = "owned" if self.owned() else "not owned"
        return f"<vinesync.Lock id={self._id!r} {state}>"


Lock.__module__ = "vinesync"
