"""Cancellation never leaves a lock held or loses an event (SPEC H3, L8,
E8): the race where a result has reached the future but the task is
cancelled before it resumes (``asyncio.wait_for``, ``asyncio.timeout``,
task-group shutdown) is forced deterministically by cancelling the task
right after the result is delivered."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, Dict, List

import pytest

import vinesync
import vinesync._aio
from conftest import Factory, wait_until


def run(main: Any) -> None:
    asyncio.run(main)


def lock_keys(s: vinesync.Sync, id: str) -> List[str]:
    return [k for k in s._faults().keys() if f"/locks/{id}/" in k]


@pytest.fixture
def cancel_after_delivery(monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    """Put a task in ``box["task"]``: the next result delivered to the loop
    is set on its future, then that task is cancelled before it can resume.
    ``box["forced"]`` tells the race really happened (result in the future,
    task cancelled with the result unread)."""
    box: Dict[str, Any] = {}
    deliver = vinesync._aio.settle

    def deliver_then_cancel(future: Any, ok: bool, value: Any, restore: Any) -> None:
        deliver(future, ok, value, restore)
        task = box.pop("task", None)
        if task is not None:
            box["forced"] = future is not None and future.done() and not future.cancelled() and ok
            assert task.cancel()  # the task has not resumed: it can still be cancelled

    monkeypatch.setattr(vinesync._aio, "settle", deliver_then_cancel)
    return box


def test_H3_lock_that_reaches_a_cancelled_task_is_released_L8(
    new_sync: Factory, cancel_after_delivery: Dict[str, Any]
) -> None:
    s, other = new_sync(), new_sync()

    async def main() -> None:
        task = asyncio.ensure_future(s.lock_async("race", ttl=10))
        cancel_after_delivery["task"] = task
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert cancel_after_delivery.get("forced") is True
    # Nobody got the guard, so the lock must not stay held by `s`.
    wait_until(lambda: lock_keys(other, "race") == [], what="the lock nobody received released")
    other.try_lock("race", ttl=10).unlock()


def test_H3_leader_that_reaches_a_cancelled_task_resigns_E1(
    new_sync: Factory, cancel_after_delivery: Dict[str, Any]
) -> None:
    s, other = new_sync(), new_sync()

    async def main() -> None:
        task = asyncio.ensure_future(s.leader_async("svc", ns="race", id="a", ttl=10))
        cancel_after_delivery["task"] = task
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert cancel_after_delivery.get("forced") is True
    wait_until(lambda: other.list_members(ns="race") == [], what="the candidacy nobody received resigned")


def test_H3_election_event_that_reaches_a_cancelled_task_is_kept_E8(
    s: vinesync.Sync, cancel_after_delivery: Dict[str, Any]
) -> None:
    async def main() -> None:
        watcher = await s.watch_elect_async(ns="race")
        leader = await s.leader_async("svc", ns="race", id="a", ttl=10)
        task = asyncio.ensure_future(watcher.__anext__())
        cancel_after_delivery["task"] = task
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancel_after_delivery.get("forced") is True
        # The event the cancelled task never read comes next, then the rest.
        events = [await asyncio.wait_for(watcher.__anext__(), timeout=10) for _ in range(2)]
        assert [(e.kind, e.member.id) for e in events] == [("joined", "a"), ("elected", "a")]
        await leader.resign_async()
        watcher.close()

    run(main())


def test_H3_wait_for_timeout_while_acquiring_never_leaves_the_lock_held_L8(new_sync: Factory) -> None:
    # The unforced form of the race: many short wait_for timeouts around
    # acquisitions that may complete at any moment.
    s, other = new_sync(), new_sync()

    outcomes: List[str] = []

    async def main() -> None:
        for _ in range(30):
            try:
                guard = await asyncio.wait_for(s.lock_async("timeouts", ttl=10), timeout=0.001)
            except asyncio.TimeoutError:
                outcomes.append("timeout")
                continue
            outcomes.append(f"held {guard.key} token {guard.fencing_token}")
            await guard.unlock_async()

    run(main())
    try:
        wait_until(lambda: lock_keys(other, "timeouts") == [], what="no acquisition left behind")
    except AssertionError as failure:
        raise AssertionError(f"{failure}: {left_behind(s, other, 'timeouts', outcomes)}") from None
    other.try_lock("timeouts", ttl=10).unlock()


def left_behind(s: vinesync.Sync, other: vinesync.Sync, id: str, outcomes: List[str]) -> str:
    """What a failed "nothing left behind" check found, to tell a lost
    guard (released once the garbage collector finds it) from a key no
    guard owns (a write that landed after its cleanup)."""
    info = other.lock_info(id)
    entries = [info.holder] if info.holder is not None else []
    entries += info.waiters
    described = [f"{e.key} token {e.fencing_token} lease {e.lease:x} handle {e.handle} value {e.value}" for e in entries]
    gc.collect()
    released_by_gc = True
    try:
        wait_until(lambda: lock_keys(other, id) == [], limit=3.0)
    except AssertionError:
        released_by_gc = False
    return (
        f"keys {described}; this handle is {s.handle_id}; attempts {outcomes}; "
        f"gone after gc.collect(): {released_by_gc}"
    )


def test_L8_entering_a_guard_or_leader_cannot_be_cancelled_half_way(s: vinesync.Sync) -> None:
    """``async with s.lock_async(id)`` takes the lock, then enters the
    guard: entering returns without suspending, so no cancellation can fall
    between the two and leave the lock held with no ``__aexit__`` to come
    (it went through the runtime and back, and a cancel there stranded the
    lock)."""

    async def main() -> None:
        guard = await s.lock_async("enter", ttl=10)
        leader = await s.leader_async("svc", ns="enter", id="a")
        for entered in (guard, leader):
            step = entered.__aenter__()
            with pytest.raises(StopIteration) as done:
                step.send(None)  # finishes in its first step
            assert done.value.value is entered
        await guard.unlock_async()
        await leader.resign_async()

    run(main())


def test_E8_an_event_put_back_survives_tasks_cancelled_before_they_run(s: vinesync.Sync) -> None:
    """Polling a stream with ``wait_for(..., 0)`` cancels each ``__anext__``
    task before it runs; an event put back by an earlier cancellation must
    survive that (it was moved into a runtime task that the cancel
    aborted, and lost), and must not wait behind a read of the stream for
    the next event (it was stuck until one came)."""

    async def main() -> None:
        for run_ in range(10):
            ns = f"polled-{run_}"
            watcher = await s.watch_elect_async(ns=ns)
            leader = await s.leader_async("svc", ns=ns, id="a")  # joined, elected
            await asyncio.sleep(0.01)
            got: List[str] = []
            for _ in range(200):
                try:
                    got.append((await asyncio.wait_for(watcher.__anext__(), 0)).kind)
                except asyncio.TimeoutError:
                    pass
                if len(got) == 2:
                    break
            while len(got) < 2:
                try:
                    got.append((await asyncio.wait_for(watcher.__anext__(), 1)).kind)
                except asyncio.TimeoutError:
                    break
            # Both arrive; their order can differ when a cancelled task's
            # event is put back after the next one was read (README).
            assert sorted(got) == ["elected", "joined"], (run_, got)
            await leader.resign_async()
            watcher.close()

    run(main())
