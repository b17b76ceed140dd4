"""The asyncio side of the native awaitables: results arrive from the
library's runtime threads through ``loop.call_soon_threadsafe(settle, ...)``."""

from __future__ import annotations

import asyncio
from typing import Any, Optional


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
