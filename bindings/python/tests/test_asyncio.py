"""asyncio twins: they never block the event loop, cancellation leaves no
key (SPEC L8), and 100 tasks contending keep exclusion (L1)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import List

import pytest

import vinesync
from conftest import ETCD_NODES, Factory, OwnEtcd, wait_until


def run(coro: "asyncio.Future[None] | object") -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_asyncio_100_tasks_contending_keep_exclusion(new_sync: Factory) -> None:
    handles = [new_sync(), new_sync()]
    state = {"inside": 0, "overlaps": 0, "count": 0}

    async def worker(s: vinesync.Sync) -> None:
        async with s.lock_async("shared", ttl=10):
            state["inside"] += 1
            if state["inside"] != 1:
                state["overlaps"] += 1
            value = state["count"]
            await asyncio.sleep(0)  # yield inside the section
            state["count"] = value + 1
            state["inside"] -= 1

    async def main() -> None:
        await asyncio.gather(*(worker(handles[i % 2]) for i in range(100)))

    run(main())
    assert state["overlaps"] == 0
    assert state["count"] == 100


async def ticks_while(awaitable: "asyncio.Future[object] | object") -> "tuple[int, object]":
    """Awaits ``awaitable`` while a ticker task counts loop turns (every
    millisecond): a call that blocked the loop would let it count none."""
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker is running before the call is made
    try:
        result = await awaitable  # type: ignore[misc]
    finally:
        stop.set()
        await tick
    return ticks, result


def test_asyncio_waiting_for_a_lock_keeps_the_loop_running(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    holder.lock("busy", ttl=10)

    failures: List[BaseException] = []

    def release_once_queued() -> None:
        # Held 1 s from the moment the waiter is in the queue (not from a
        # fixed start: its lease grant can be slow on a loaded machine).
        try:
            wait_until(lambda: len(holder.lock_info("busy").waiters) == 1, limit=20, what="waiter queued")
            time.sleep(1.0)
        except BaseException as failure:
            failures.append(failure)
        finally:
            holder.unlock("busy")

    releaser = threading.Thread(target=release_once_queued)
    releaser.start()

    async def main() -> int:
        started = time.monotonic()
        ticks, guard = await ticks_while(other.lock_async("busy", ttl=10))
        assert time.monotonic() - started >= 0.9  # it did wait for the holder
        await guard.unlock_async()  # type: ignore[attr-defined]
        return ticks

    try:
        ticks = asyncio.run(main())
    finally:
        releaser.join(timeout=30)
    assert not failures, failures
    # 1 s of 1 ms sleeps: hundreds of turns; a blocking call allows ~1.
    assert ticks >= 50, ticks


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
        watcher = await s.watch_elect_async(ns="aio")
        async with s.leader_async("svc", ns="aio", id="a", ttl=5) as leader:
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
        status = await leader.status_async()
        assert await status.__anext__() is True
        observer = await leader.observe_async()
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
        await s.unlock_async("lost")  # by id: the guard knows
        assert guard2.state == "released"
        with pytest.raises(vinesync.NotLocked):
            await guard2.unlock_async()

    run(main())


def test_asyncio_outside_a_running_loop_is_a_clear_error(s: vinesync.Sync) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        s.lock_async("x", ttl=5)


def try_lock_once(s: vinesync.Sync, id: str) -> bool:
    try:
        s.try_lock(id, ttl=10).unlock()
    except vinesync.WouldBlock:
        return False
    return True


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
    # The cancelled attempt's key may still be on its way out (removed in
    # the background): the lock must become free, not stay held by it.
    wait_until(lambda: try_lock_once(other, "early"), what="the lock free of the cancelled attempt")


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
    wait_until(lambda: try_lock_once(other, "dropped"), what="the lock free of the dropped attempt")


def test_asyncio_async_with_lock_async_directly_releases(new_sync: Factory) -> None:
    s, other = new_sync(), new_sync()

    async def main() -> None:
        async with s.lock_async("direct", ttl=10) as guard:
            assert isinstance(guard, vinesync.LockGuard) and guard.state == "held"
            with pytest.raises(vinesync.WouldBlock):
                await other.try_lock_async("direct", ttl=10)
        assert guard.state == "released"
        async with other.try_lock_async("direct", ttl=10) as again:
            assert again.state == "held"

    run(main())


def test_asyncio_construction_and_init_have_async_forms(backend: str, prefix: str) -> None:
    async def main() -> None:
        if backend == "etcd":
            s = await vinesync.Sync.etcd_async(ETCD_NODES, prefix=prefix)
        else:
            s = vinesync.Sync.memory(prefix=prefix)
        assert s.name == backend
        await s.init_async(prefix=prefix + "/renamed")
        assert s.options().prefix == prefix + "/renamed"
        await s.close_async()
        from_env = await vinesync.Sync.from_env_async()
        assert from_env.name == ("etcd" if ETCD_NODES else "memory")
        await from_env.close_async()

    run(main())


def test_asyncio_etcd_async_does_not_block_the_loop_while_etcd_is_paused(own_etcd: OwnEtcd) -> None:
    async def measured() -> int:
        own_etcd.pause()
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        try:
            try:
                s = await asyncio.wait_for(
                    vinesync.Sync.etcd_async(own_etcd.nodes, dial_timeout=1, request_timeout=1), timeout=0.5
                )
                await s.close_async()
            except (asyncio.TimeoutError, vinesync.Unavailable):
                pass
        finally:
            stop.set()
            await tick
            own_etcd.resume()
        return ticks

    ticks = asyncio.run(measured())
    assert ticks >= 50, ticks
