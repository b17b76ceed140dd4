"""The asyncio side of the native awaitables: results arrive from the
library's runtime threads through ``loop.call_soon_threadsafe(settle, ...)``.

A result no task will take is given up (SPEC L8, E8): a lock is released, a
candidacy resigned, a stream item put back in front of its stream. That
covers a result that arrives after its task was cancelled (``settle``) and
one that reached the future just before the cancellation did (``wait``)."""

from __future__ import annotations

import asyncio
import typing
from types import TracebackType
from typing import Callable, Optional

# Module attributes are typing's generics only through `typing.`: stubtest
# on CPython 3.9 rejects them as names of this module.
_T = typing.TypeVar("_T")


def give_up(value: typing.Any, restore: Optional[Callable[[typing.Any], None]]) -> None:
    """Hands a result nobody will use back: to ``restore`` when given (a
    stream item), else to its ``_abandon`` (a lock or a candidacy)."""
    if restore is not None:
        restore(value)
        return
    abandon = getattr(value, "_abandon", None)
    if abandon is not None:
        abandon()


def settle(
    future: Optional[asyncio.Future[typing.Any]], ok: bool, value: typing.Any, restore: Optional[Callable[[typing.Any], None]]
) -> None:
    """Completes ``future`` with ``value`` (or raises it into the future when
    ``ok`` is false). A result that arrives after the future was cancelled,
    or once its loop is gone, is given up."""
    if future is None or future.done():
        if ok:
            give_up(value, restore)
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _Work(typing.Protocol):
    def taken(self) -> None: ...
    def cancel(self) -> None: ...


async def ready(value: _T) -> _T:
    """``value``, as a coroutine that never suspends: what a guard's or a
    leader's ``__aenter__`` returns. Awaiting it gives cancellation no
    moment to strike between taking a lock and entering its block."""
    return value


class _Steps(typing.Coroutine[typing.Any, typing.Any, _T], typing.Generic[_T]):
    """A coroutine written as an iterator (``send``, ``throw`` and
    ``close`` are the subclass's), so asyncio tasks can run it and it sees
    a cancellation that comes before its first step."""

    __slots__ = ()

    def __await__(self) -> typing.Generator[typing.Any, None, _T]:
        return self  # type: ignore[return-value]  # an iterator with send and throw

    def __iter__(self) -> _Steps[_T]:
        return self

    def __next__(self) -> typing.Any:
        return self.send(None)


class Ready(_Steps[_T]):
    """A stream item handed out again (put back after a cancellation): a
    coroutine that returns it without suspending. If the awaiting task is
    cancelled before it runs, or the coroutine is closed or dropped
    unawaited, the item goes back to ``restore`` for the next call (SPEC
    E8: no event is lost to cancellation)."""

    __slots__ = ("_value", "_restore", "_done")

    def __init__(self, value: _T, restore: Callable[[_T], None]) -> None:
        self._value = value
        self._restore = restore
        self._done = False

    def _give_back(self) -> None:
        if not self._done:
            self._done = True
            self._restore(self._value)

    def send(self, value: typing.Any) -> typing.Any:
        if self._done:
            raise RuntimeError("cannot reuse already awaited coroutine")
        self._done = True
        raise StopIteration(self._value)

    def throw(self, typ: typing.Any, val: typing.Any = None, tb: typing.Any = None) -> typing.Any:  # type: ignore[override]
        self._give_back()
        if isinstance(typ, BaseException):
            raise typ
        raise typ if val is None else val

    def close(self) -> None:
        self._give_back()

    def __del__(self) -> None:
        self._give_back()


async def _wait(future: asyncio.Future[typing.Any], work: _Work) -> typing.Any:
    try:
        result = await future
    except BaseException:
        work.cancel()
        raise
    work.taken()
    return result


class Pending(_Steps[_T]):
    """What every ``*_async`` method returns: a coroutine (``await`` it, or
    give it to ``create_task``) whose work started when the method was
    called. ``lock_async``, ``try_lock_async`` and ``leader_async`` results
    are async context managers, so ``async with s.lock_async("id") as
    guard:`` works directly and releases on exit.

    If the awaiting task is cancelled — before it first runs, while
    waiting, or after the result reached the future but before the task
    resumed — or the coroutine is closed unawaited, the work is cancelled
    and a result already there is given up (a lock wait removes its key, a
    lock taken is released: SPEC L8; a stream event is put back: E8)."""

    __slots__ = ("_coroutine", "_work", "_started", "_value")

    def __init__(self, future: asyncio.Future[typing.Any], work: _Work) -> None:
        self._coroutine: typing.Coroutine[typing.Any, typing.Any, _T] = _wait(future, work)
        self._work = work
        self._started = False
        self._value: Optional[typing.Any] = None

    def send(self, value: typing.Any) -> typing.Any:
        self._started = True
        return self._coroutine.send(value)

    def throw(self, typ: typing.Any, val: typing.Any = None, tb: typing.Any = None) -> typing.Any:  # type: ignore[override]
        if not self._started:
            # Thrown into before it ran (a task cancelled at once): the
            # coroutine body never runs, so cancel the work here.
            self._work.cancel()
        if val is None and tb is None:
            return self._coroutine.throw(typ)
        return self._coroutine.throw(typ, val, tb)  # pragma: no cover - old signature

    def close(self) -> None:
        if not self._started:
            self._work.cancel()
        self._coroutine.close()

    async def __aenter__(self) -> _T:
        value = await self
        self._value = value
        try:
            entered: _T = await value.__aenter__()  # type: ignore[attr-defined]
        except BaseException:
            # Taken but not entered: ``__aexit__`` will not run, so give
            # it up here (SPEC L8).
            value._abandon()  # type: ignore[attr-defined]
            raise
        return entered

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self._value.__aexit__(exc_type, exc, tb)  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return "<vinesync.Pending>"
