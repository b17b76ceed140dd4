"""Python's conventions where they differ from vine's (README, "Python
conventions"): wait=0 tries once, wait=None waits; float durations; a
threading.Lock-style object; consistent guard state; public exception
names; the core's events in `logging`."""

from __future__ import annotations

import gc
import logging
import threading
import time
import traceback
import weakref
from typing import List

import pytest

import vinesync
from conftest import Factory, wait_until


def lock_keys(s: vinesync.Sync, id: str) -> List[str]:
    return [k for k in s._faults().keys() if f"/locks/{id}/" in k]


def test_wait_zero_tries_once_and_raises_LockTimeout(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    holder.lock("w0", ttl=10)
    started = time.monotonic()
    with pytest.raises(vinesync.LockTimeout, match="wait=0"):
        other.lock("w0", ttl=10, wait=0)
    assert time.monotonic() - started < 2
    assert len(lock_keys(holder, "w0")) == 1  # the try left no key (L8)
    holder.unlock("w0")
    other.lock("w0", ttl=10, wait=0).unlock()  # free: one try takes it


def test_wait_none_waits_without_limit(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    holder.lock("wn", ttl=10)
    threading.Timer(0.5, lambda: holder.unlock("wn")).start()
    with other.lock("wn", ttl=10, wait=None) as guard:
        assert guard.state == "held"


def test_durations_are_floats_everywhere(s: vinesync.Sync) -> None:
    with s.lock("f", ttl=1.5, wait=2.5):
        pass
    with s.leader("svc", ns="floats", ttl=1.5) as leader:
        assert leader.wait_elected(timeout=5.0)
    with pytest.raises(vinesync.InvalidArgument, match="LeaderTTL"):
        s.leader("svc", ns="floats", ttl=0.5)
    with pytest.raises(vinesync.InvalidArgument, match="ttl"):
        s.leader("svc", ns="floats", ttl=float("nan"))


def test_Lock_object_acquire_release_locked_owned(new_sync: Factory) -> None:
    s, other = new_sync(), new_sync()
    mine = s.Lock("obj", ttl=10)
    theirs = other.Lock("obj", ttl=10)
    assert isinstance(mine, vinesync.Lock)
    assert not mine.locked() and not mine.owned()
    assert mine.acquire() is True
    assert mine.locked() and mine.owned()
    assert theirs.locked() and not theirs.owned()
    assert theirs.acquire(blocking=False) is False
    started = time.monotonic()
    assert theirs.acquire(timeout=0.2) is False
    assert time.monotonic() - started >= 0.2
    assert theirs.acquire(timeout=0) is False
    with pytest.raises(ValueError):
        theirs.acquire(blocking=False, timeout=1)
    mine.release()
    assert not mine.owned()
    with pytest.raises(vinesync.NotLocked):
        mine.release()
    # Reusable, and a context manager.
    for _ in range(2):
        with theirs:
            assert theirs.owned()
        assert not theirs.owned()
    assert not mine.locked()


def test_Lock_object_shared_by_threads_excludes(s: vinesync.Sync) -> None:
    lock = s.Lock("threads", ttl=10)
    inside, overlaps = 0, 0

    def work() -> None:
        nonlocal inside, overlaps
        for _ in range(5):
            with lock:
                inside += 1
                overlaps += inside != 1
                time.sleep(0.001)
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0


def test_guard_state_is_consistent_after_Sync_unlock_and_close(new_sync: Factory) -> None:
    s = new_sync()
    guard = s.lock("st", ttl=10)
    assert (guard.state, guard.is_lost, guard.is_released) == ("held", False, False)
    s.unlock("st")  # by id: the guard knows
    assert (guard.state, guard.is_lost, guard.is_released) == ("released", False, True)
    assert "released" in repr(guard)
    with pytest.raises(vinesync.NotLocked):
        guard.unlock()
    closing = new_sync()
    held = closing.lock("st2", ttl=10)
    closing.close()
    assert held.state == "released"


def test_guard_is_lost_after_unlock_does_not_depend_on_earlier_reads(s: vinesync.Sync) -> None:
    read_before = s.lock("a", ttl=10)
    assert read_before.is_lost is False
    read_before.unlock()
    never_read = s.lock("b", ttl=10)
    never_read.unlock()
    assert read_before.is_lost is False and never_read.is_lost is False
    assert read_before.state == never_read.state == "released"
    assert read_before.wait_lost(timeout=0) is False


def test_guard_lost_then_released_stays_lost_L6(s: vinesync.Sync) -> None:
    guard = s.lock("lost", ttl=10)
    s._faults().delete_key(guard.key, guard.fencing_token)  # not read before
    with pytest.raises(vinesync.Lost):
        guard.unlock()
    assert guard.state == "lost" and guard.is_lost


def test_exceptions_have_a_public_module_path(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    holder.lock("x", ttl=10)
    with pytest.raises(vinesync.LockTimeout) as raised:
        other.lock("x", ttl=10, wait=0)
    assert type(raised.value).__module__ == "vinesync"
    assert repr(type(raised.value)) == "<class 'vinesync.LockTimeout'>"
    printed = "".join(traceback.format_exception_only(type(raised.value), raised.value))
    assert printed.startswith("vinesync.LockTimeout: ")
    for name in vinesync.__all__:
        obj = getattr(vinesync, name)
        if isinstance(obj, type):
            assert obj.__module__ == "vinesync", name


def test_core_events_reach_the_vinesync_logger(s: vinesync.Sync, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vinesync")
    guard = s.lock("logged", ttl=10)
    assert not guard.is_lost  # watching the key: its loss is logged
    s._faults().delete_key(guard.key, guard.fencing_token)
    assert guard.wait_lost(timeout=10)

    def warned() -> bool:
        return any(
            r.name.startswith("vinesync.") and r.levelno == logging.WARNING and "lock lost" in r.getMessage()
            for r in caplog.records
        )

    wait_until(warned, what="the core's 'lock lost' warning in logging")
    record = next(r for r in caplog.records if "lock lost" in r.getMessage())
    assert guard.key in record.getMessage()


def test_test_hooks_are_private(s: vinesync.Sync) -> None:
    assert "Faults" not in vinesync.__all__
    assert not hasattr(vinesync, "Faults")


def test_handles_can_be_weakly_referenced(s: vinesync.Sync) -> None:
    """Sync, guards, leaders and streams accept weak references, as Python
    objects do (caches, weakref.finalize); dropping the last strong
    reference ends the weak one."""
    guard = s.lock("weak", ttl=10)
    leader = s.leader("svc", ns="weak", ttl=10)
    watcher = s.watch_elect(ns="weak")
    objects = [s, guard, leader, watcher, leader.observe()]
    refs = [weakref.ref(o) for o in objects]
    assert [r() for r in refs] == objects
    finalized: List[str] = []
    weakref.finalize(guard, finalized.append, "guard")
    guard.unlock()
    del objects, guard
    gc.collect()
    assert finalized == ["guard"]
    assert refs[1]() is None
    leader.resign()
