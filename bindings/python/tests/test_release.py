"""Releases run to completion (SPEC H2): an unlock, resign or close whose
caller is interrupted (Ctrl-C) or cancelled (an asyncio timeout) while etcd
is paused goes on in the background; once etcd answers the key is gone and
every view of the state agrees."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
import uuid
from typing import Callable, Iterator

import pytest

import vinesync
from conftest import OwnEtcd, wait_until


@pytest.fixture(scope="module")
def etcd() -> Iterator[OwnEtcd]:
    from conftest import ETCD_HARNESS

    if not ETCD_HARNESS:
        pytest.skip("no etcd harness: set VINESYNC_ETCD_HARNESS (make test does)")
    own = OwnEtcd()
    try:
        yield own
    finally:
        own.stop()


def handles(etcd: OwnEtcd) -> "tuple[vinesync.Sync, vinesync.Sync]":
    prefix = f"/pytest-h2/{uuid.uuid4().hex[:12]}"
    return (
        vinesync.Sync.etcd(etcd.nodes, prefix=prefix, request_timeout=15),
        vinesync.Sync.etcd(etcd.nodes, prefix=prefix, request_timeout=15),
    )


def interrupted_while_paused(etcd: OwnEtcd, release: Callable[[], None], may_return_first: bool = False) -> None:
    """Calls ``release`` with etcd paused and Ctrl-C after 0.3 s; checks the
    caller got KeyboardInterrupt promptly (or, with ``may_return_first``, that
    it returned before), then resumes etcd."""
    timer = threading.Timer(0.3, _thread.interrupt_main)
    etcd.pause()
    try:
        timer.start()
        started = time.monotonic()
        try:
            release()
        except KeyboardInterrupt:
            pass
        else:
            assert may_return_first, "the release finished with etcd paused"
            timer.cancel()
            timer.join()
            try:  # a Ctrl-C that fired just as it returned lands here
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass
        assert time.monotonic() - started < 3, "Ctrl-C did not stop the waiting"
    finally:
        timer.cancel()
        etcd.resume()


@pytest.mark.parametrize("how", ["guard.unlock", "with", "Sync.unlock"])
def test_H2_ctrl_c_during_unlock_with_etcd_paused_still_releases(etcd: OwnEtcd, how: str) -> None:
    s, checker = handles(etcd)
    try:
        guard = s.lock("h2", ttl=30)
        release = {
            "guard.unlock": guard.unlock,
            "with": lambda: guard.__exit__(None, None, None),
            "Sync.unlock": lambda: s.unlock("h2"),
        }[how]
        interrupted_while_paused(etcd, release)
        assert guard.state == "released"
        assert not guard.is_lost
        wait_until(lambda: checker._faults().keys() == [], what="the key removed by the release that went on")
        with pytest.raises(vinesync.NotLocked):
            s.unlock("h2")
        checker.try_lock("h2", ttl=5).unlock()
    finally:
        s.close()
        checker.close()


def test_H2_ctrl_c_during_resign_with_etcd_paused_still_resigns(etcd: OwnEtcd) -> None:
    s, checker = handles(etcd)
    try:
        leader = s.leader("svc", ns="h2", ttl=30)
        interrupted_while_paused(etcd, leader.resign)
        wait_until(lambda: checker.list_members(ns="h2") == [], what="the candidacy resigned in the background")
        assert leader.is_ended
    finally:
        s.close()
        checker.close()


def test_H2_ctrl_c_during_close_with_etcd_paused_still_closes(etcd: OwnEtcd) -> None:
    s, checker = handles(etcd)
    try:
        s.lock("h2", ttl=30)
        # The core may finish a close without waiting for etcd (it revokes
        # in the background); either way the lease must go.
        interrupted_while_paused(etcd, s.close, may_return_first=True)
        assert s.closed
        wait_until(lambda: checker._faults().keys() == [], what="the lease revoked by the close that went on")
    finally:
        checker.close()


def test_H2_asyncio_timeout_in_async_with_exit_still_releases(etcd: OwnEtcd) -> None:
    s, checker = handles(etcd)
    state = {}
    # The handle's lease for this TTL exists before the timed part: the
    # 0.5 s below must cover taking the lock (one write), not a lease grant.
    s.lock("warm-up", ttl=30)
    s.unlock("warm-up")

    async def hold_then_pause() -> None:
        async with s.lock_async("h2a", ttl=30) as guard:
            state["guard"] = guard
            etcd.pause()  # leaving the block now waits for etcd
            state["paused"] = time.monotonic()

    async def main() -> None:
        started = time.monotonic()
        try:
            await asyncio.wait_for(hold_then_pause(), timeout=0.5)
        except asyncio.TimeoutError:
            pass
        else:
            pytest.fail(
                f"the block's exit finished with etcd paused (paused {state['paused'] - started:.2f}s "
                f"after the start, {time.monotonic() - state['paused']:.2f}s before the end)"
            )
        assert time.monotonic() - started < 3, "the timeout did not stop the waiting"

    try:
        try:
            asyncio.run(main())
        finally:
            etcd.resume()
        assert state["guard"].state == "released"
        wait_until(lambda: checker._faults().keys() == [], what="the key removed by the release that went on")
        with pytest.raises(vinesync.NotLocked):
            s.unlock("h2a")
    finally:
        s.close()
        checker.close()


def test_H2_cancelled_unlock_async_and_resign_async_still_release(etcd: OwnEtcd) -> None:
    s, checker = handles(etcd)

    async def main() -> None:
        guard = await s.lock_async("h2b", ttl=30)
        leader = await s.leader_async("svc", ns="h2b", ttl=30)
        etcd.pause()
        try:
            for release in (guard.unlock_async(), leader.resign_async()):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(release, timeout=0.3)
        finally:
            etcd.resume()

    try:
        asyncio.run(main())
        wait_until(lambda: checker._faults().keys() == [], what="both releases done in the background")
    finally:
        s.close()
        checker.close()
