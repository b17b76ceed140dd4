"""asyncio twins: they never block the event loop, cancellation leaves no
key (SPEC L8), and 100 tasks contending keep exclusion (L1)."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

import vinesync
from conftest import Factory, wait_until


def run(coro: "asyncio.Future[None] | object") -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_asyncio_100_tasks_contending_keep_exclusion(new_sync: Factory) -> None:
    handles = [new_sync(), new_sync()]
    state = {"inside": 0, "overlaps": 0, "count": 0, "ticks": 0}

    async def worker(s: vinesync.Sync) -> None:
        async with await s.lock_async("shared", ttl=10):
            state["inside"] += 1
            if state["inside"] != 1:
                state["overlaps"] += 1
            value = state["count"]
            await asyncio.sleep(0)  # yield inside the section
            state["count"] = value + 1
            state["inside"] -= 1

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            state["ticks"] += 1
            await asyncio.sleep(0.001)

    async def main() -> None:
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop))
        await asyncio.gather(*(worker(handles[i % 2]) for i in range(100)))
        stop.set()
        await tick

    run(main())
    assert state["overlaps"] == 0
    assert state["count"] == 100
    assert state["ticks"] > 0  # the loop kept running while tasks waited


def test_asyncio_cancelled_waiter_leaves_no_key_L8(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    guard = holder.lock("cancel", ttl=10)

    def keys() -> List[str]:
        return [k for k in holder._faults().keys() if "/locks/cancel/" in k]

    async def main() -> None:
        task = asyncio.create_task(other.lock_async("cancel", ttl=10))
        while len(keys()) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    wait_until(lambda: len(keys()) == 1, what="the cancelled waiter's key removed")
    guard.unlock()
    # And the lock is free for the other handle: nothing of the cancelled
    # attempt is still queued.
    other.try_lock("cancel", ttl=10).unlock()


def test_asyncio_wait_timeout_raises_LockTimeout(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    holder.lock("t", ttl=10)

    async def main() -> None:
        with pytest.raises(vinesync.LockTimeout):
            await other.lock_async("t", ttl=10, wait=0.2)
        with pytest.raises(vinesync.WouldBlock):
            await other.try_lock_async("t", ttl=10)

    run(main())
    holder.unlock("t")


def test_asyncio_leader_and_watch(s: vinesync.Sync) -> None:
    async def main() -> None:
        watcher = s.watch_elect(ns="aio")
        async with await s.leader_async("svc", ns="aio", id="a", ttl=5) as leader:
            assert await leader.wait_elected_async(timeout=10)
            members = await s.list_members_async(ns="aio")
            assert [m.id for m in members] == ["a"]
            assert (await leader.primary_async()).id == "a"
            assert [m.id for m in await leader.members_async()] == ["a"]
        kinds = []
        async for event in watcher:
            kinds.append(event.kind)
            if event.kind == "left":
                watcher.close()
        assert kinds == ["joined", "elected", "left"]

    run(main())


def test_asyncio_status_and_observe_iterators(s: vinesync.Sync) -> None:
    async def main() -> None:
        leader = await s.leader_async("svc", ns="aio2", id="a", ttl=5)
        status = leader.status()
        assert await status.__anext__() is True
        observer = leader.observe()
        seen = await observer.__anext__()
        assert seen.id == "a"
        observer.close()
        await leader.resign_async()
        assert [x async for x in status] == [False]

    run(main())


def test_asyncio_guard_wait_lost_and_unlock(s: vinesync.Sync) -> None:
    async def main() -> None:
        guard = await s.lock_async("lost", ttl=10)
        assert await guard.wait_lost_async(timeout=0.05) is False
        s._faults().delete_key(guard.key, guard.fencing_token)
        assert await guard.wait_lost_async(timeout=10) is True
        with pytest.raises(vinesync.Lost):
            await guard.unlock_async()
        guard2 = await s.lock_async("lost", ttl=10)
        await guard2.unlock_async()
        await s.unlock_async("lost") if False else None

    run(main())


def test_asyncio_outside_a_running_loop_is_a_clear_error(s: vinesync.Sync) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        s.lock_async("x", ttl=5)


def test_asyncio_cancelled_before_it_ran_leaves_no_key_L8(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    guard = holder.lock("early", ttl=10)

    async def main() -> None:
        task = asyncio.create_task(other.lock_async("early", ttl=10))
        task.cancel()  # before the task's first step
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    wait_until(
        lambda: len([k for k in holder._faults().keys() if "/locks/early/" in k]) == 1,
        what="the waiter key of a task cancelled before it ran removed",
    )
    guard.unlock()
    other.try_lock("early", ttl=10).unlock()


def test_asyncio_coroutine_never_awaited_leaves_no_key_L8(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    guard = holder.lock("dropped", ttl=10)

    async def main() -> None:
        pending = other.lock_async("dropped", ttl=10)
        await asyncio.sleep(0.05)
        pending.close()  # what garbage collection of an unawaited coroutine does
        del pending

    run(main())
    wait_until(
        lambda: len([k for k in holder._faults().keys() if "/locks/dropped/" in k]) == 1,
        what="the waiter key of a never-awaited lock_async removed",
    )
    guard.unlock()
    other.try_lock("dropped", ttl=10).unlock()
