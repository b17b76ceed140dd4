"""The asyncio side of the native awaitables: results arrive from the
library's runtime threads through ``loop.call_soon_threadsafe(settle, ...)``."""

from __future__ import annotations

import asyncio
from typing import Any, Optional, Protocol


def settle(future: Optional[asyncio.Future[Any]], ok: bool, value: Any) -> None:
    """Completes ``future`` with ``value`` (or raises it into the future when
    ``ok`` is false). A lock or candidacy that arrives after the future was
    cancelled, or once its loop is gone, is released: nobody will use it."""
    if future is None or future.done():
        if ok:
            abandon = getattr(value, "_abandon", None)
            if abandon is not None:
                abandon()
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _Work(Protocol):
    def cancel(self) -> None: ...


async def wait(future: asyncio.Future[Any], work: _Work) -> Any:
    """The coroutine every ``*_async`` method returns (so ``create_task``
    takes it). The work starts when the method is called; if the awaiting
    task is cancelled — even before it first runs — the work is cancelled
    (a lock wait removes its key: SPEC L8). A coroutine never awaited
    cancels its work when it is garbage-collected."""
    try:
        return await future
    finally:
        # Nobody takes the result now: a late one goes to `settle`, which
        # releases it. Both calls do nothing once the work has finished.
        future.cancel()
        work.cancel()
