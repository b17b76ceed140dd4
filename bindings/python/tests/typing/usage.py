"""Type-checked with mypy --strict by test_typing.py (never run): the ways
users write vinesync code must type-check, `return` inside `with` included
(an `__exit__` typed `-> bool` makes mypy report "Missing return statement")."""

from __future__ import annotations

import asyncio
from typing import List

import vinesync


def token(s: vinesync.Sync) -> int:
    with s.lock("id", ttl=5, wait=0) as guard:
        return guard.fencing_token


def elected(s: vinesync.Sync) -> bool:
    with s.leader("svc", ttl=1.5) as leader:
        return leader.is_primary


def name() -> str:
    with vinesync.Sync.memory() as s:
        return s.name


def lock_object(s: vinesync.Sync) -> bool:
    lock: vinesync.Lock = s.Lock("id", ttl=2.5)
    if lock.acquire(blocking=True, timeout=None):
        lock.release()
    with lock:
        return lock.owned() and lock.locked()


async def token_async(s: vinesync.Sync) -> int:
    async with s.lock_async("id", ttl=5, wait=None) as guard:
        return guard.fencing_token


async def leader_async(s: vinesync.Sync) -> str:
    async with s.leader_async("svc", ttl=1.5) as leader:
        return leader.id


async def task_and_streams() -> List[str]:
    s = await vinesync.Sync.from_env_async()
    await s.init_async(prefix="/typed")
    task: asyncio.Task[vinesync.LockGuard] = asyncio.create_task(s.lock_async("id"))
    guard = await task
    await guard.unlock_async()
    kinds = []
    async with s.leader_async("svc", ns="typed") as leader:
        watcher = await s.watch_elect_async(ns="typed")
        async for event in watcher:
            kinds.append(event.kind)
            break
        observer = await leader.observe_async()
        primary = await observer.__anext__()
        kinds.append(primary.id)
        status = await leader.status_async()
        async for is_primary in status:
            kinds.append(str(is_primary))
            break
    await s.close_async()
    return kinds
