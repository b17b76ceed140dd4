"""Locks through the Python API: SPEC L1–L10, each test named by its rule."""

from __future__ import annotations

import threading
import time
from typing import List

import pytest

import vinesync
from conftest import Factory, wait_until


def lock_keys(s: vinesync.Sync, id: str) -> List[str]:
    return [k for k in s._faults().keys() if f"/locks/{id}/" in k]


def test_L1_exclusion_across_threads_and_handles(new_sync: Factory) -> None:
    handles = [new_sync(), new_sync()]
    inside = 0
    overlaps = 0
    count = 0
    threads_per_handle, rounds = 4, 15

    def work(s: vinesync.Sync) -> None:
        nonlocal inside, overlaps, count
        for _ in range(rounds):
            with s.lock("counter", ttl=10):
                inside += 1
                if inside != 1:
                    overlaps += 1
                value = count
                time.sleep(0)  # let other threads run inside the section if they could
                count = value + 1
                inside -= 1

    threads = [threading.Thread(target=work, args=(h,)) for h in handles for _ in range(threads_per_handle)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0
    assert count == len(handles) * threads_per_handle * rounds


def test_L2_waiters_are_served_in_arrival_order(new_sync: Factory) -> None:
    holder = new_sync()
    first = holder.lock("queue", ttl=10)
    order: List[int] = []
    waiters = []
    for i in range(3):
        s = new_sync()

        def wait(i: int = i, s: vinesync.Sync = s) -> None:
            with s.lock("queue", ttl=10):
                order.append(i)

        t = threading.Thread(target=wait)
        t.start()
        waiters.append(t)
        # The next waiter starts only once this one's key is written.
        wait_until(lambda i=i: len(lock_keys(holder, "queue")) == i + 2, what=f"waiter {i} queued")
    first.unlock()
    for t in waiters:
        t.join(timeout=30)
    assert order == [0, 1, 2]


def test_L2_wait_runs_out_with_LockTimeout_a_TimeoutError(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    holder.lock("busy", ttl=10)
    with pytest.raises(vinesync.LockTimeout) as raised:
        other.lock("busy", ttl=10, wait=0.3)
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.kind == "lock_timeout"
    assert "busy" in str(raised.value)
    # L8: the timed-out waiter left no key behind.
    wait_until(lambda: len(lock_keys(holder, "busy")) == 1, what="only the holder's key")


def test_L3_seed_example_second_lock_on_same_handle_waits_for_unlock(s: vinesync.Sync) -> None:
    s.lock("lock1", ttl=3)
    locked = threading.Event()

    def second() -> None:
        s.lock("lock1", ttl=3)
        locked.set()

    t = threading.Thread(target=second)
    t.start()
    wait_until(lambda: len(lock_keys(s, "lock1")) == 2, what="second acquisition queued")
    assert not locked.is_set()  # not reentrant: it waits
    s.unlock("lock1")
    t.join(timeout=10)
    assert locked.is_set()
    s.unlock("lock1")


def test_L3_H6_guard_collected_keeps_lock_held_by_the_handle(new_sync: Factory) -> None:
    s, other = new_sync(), new_sync()
    s.lock("kept", ttl=10)  # guard discarded at once, vine style
    with pytest.raises(vinesync.WouldBlock):
        other.try_lock("kept", ttl=10)
    threading.Thread(target=lambda: s.unlock("kept")).start()  # any thread may unlock
    wait_until(lambda: lock_keys(other, "kept") == [], what="lock released from another thread")


def test_L4_ttl_frees_the_lock_of_a_crashed_handle(new_sync: Factory) -> None:
    crashed, other = new_sync(), new_sync()
    crashed.lock("ttl", ttl=1)
    crashed._faults().crash()
    with other.lock("ttl", ttl=5, wait=15) as guard:
        assert guard.fencing_token > 0


def test_L5_fencing_tokens_strictly_increase(new_sync: Factory) -> None:
    a, b = new_sync(), new_sync()
    tokens = []
    for s in (a, b, a, b):
        with s.lock("fenced", ttl=5) as guard:
            tokens.append(guard.fencing_token)
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


def test_L6_guard_reports_lost_when_its_key_is_deleted(s: vinesync.Sync) -> None:
    guard = s.lock("deleted", ttl=10)
    assert not guard.is_lost
    assert guard.wait_lost(timeout=0.05) is False
    revision = guard.fencing_token
    assert s._faults().delete_key(guard.key, revision)
    assert guard.wait_lost(timeout=10) is True
    assert guard.is_lost
    with pytest.raises(vinesync.Lost):
        guard.unlock()


def test_L6_guard_reports_lost_when_the_lease_expires(s: vinesync.Sync) -> None:
    guard = s.lock("expired", ttl=2)
    s._faults().expire_leases()
    assert guard.wait_lost(timeout=10) is True
    with pytest.raises(vinesync.Lost):
        with guard:
            pass  # leaving the block reports the loss


def test_L7_unlock_of_a_lock_not_held_is_NotLocked(new_sync: Factory) -> None:
    s, other = new_sync(), new_sync()
    with pytest.raises(vinesync.NotLocked):
        s.unlock("never")
    held = other.lock("theirs", ttl=10)
    with pytest.raises(vinesync.NotLocked):
        s.unlock("theirs")  # someone else's lock: no effect
    assert not held.is_lost
    assert len(lock_keys(other, "theirs")) == 1
    held.unlock()
    with pytest.raises(vinesync.NotLocked):
        held.unlock()  # double unlock
    with pytest.raises(vinesync.NotLocked):
        other.unlock("theirs")


def test_L8_timed_out_and_failed_attempts_leave_no_key(new_sync: Factory) -> None:
    holder, other = new_sync(), new_sync()
    holder.lock("l8", ttl=10)
    for _ in range(3):
        with pytest.raises(vinesync.LockTimeout):
            other.lock("l8", ttl=10, wait=0.1)
    wait_until(lambda: len(lock_keys(holder, "l8")) == 1, what="waiter keys removed")


def test_L9_waiter_whose_lease_expired_never_reports_its_dead_key(new_sync: Factory) -> None:
    holder, waiter = new_sync(), new_sync()
    held = holder.lock("l9", ttl=10)
    result: List[vinesync.LockGuard] = []
    t = threading.Thread(target=lambda: result.append(waiter.lock("l9", ttl=10, wait=20)))
    t.start()
    wait_until(lambda: len(lock_keys(holder, "l9")) == 2, what="the waiter queued")
    dead_key = [k for k in lock_keys(holder, "l9") if k != held.key][0]
    waiter._faults().expire_leases()  # the waiter's key dies while it waits
    wait_until(lambda: dead_key not in lock_keys(holder, "l9"), what="the waiter's key expired")
    held.unlock()
    t.join(timeout=30)
    assert len(result) == 1
    guard = result[0]
    # It started over: a fresh key, newer than its dead one.
    assert guard.key != dead_key
    assert guard.fencing_token > held.fencing_token + 1
    assert not guard.is_lost
    guard.unlock()


def test_L10_try_lock_returns_at_once_and_leaves_no_key(new_sync: Factory) -> None:
    s, other = new_sync(), new_sync()
    guard = s.try_lock("try", ttl=10)
    with pytest.raises(vinesync.WouldBlock):
        other.try_lock("try", ttl=10)
    assert len(lock_keys(s, "try")) == 1
    guard.unlock()
    other.try_lock("try", ttl=10).unlock()


def test_with_block_releases_on_exception(new_sync: Factory) -> None:
    s, other = new_sync(), new_sync()
    with pytest.raises(RuntimeError, match="inside"):
        with s.lock("raise", ttl=10):
            raise RuntimeError("inside")
    other.try_lock("raise", ttl=10).unlock()


def test_with_block_after_explicit_unlock_is_fine(s: vinesync.Sync) -> None:
    with s.lock("twice", ttl=10) as guard:
        guard.unlock()
    with s.lock("twice", ttl=10):
        s.unlock("twice")  # released by id inside the block


def test_guard_describes_itself(s: vinesync.Sync) -> None:
    guard = s.lock("described", ttl=10)
    assert guard.id == "described"
    assert "/locks/described/" in guard.key
    assert guard.lease != 0
    assert "described" in repr(guard) and "held" in repr(guard)
    guard.unlock()


def test_L6_wait_lost_is_false_when_the_guard_is_released_not_lost(new_sync: Factory) -> None:
    """A thread blocked in ``wait_lost`` is woken by a release (unlock, or
    closing the Sync) with False: released is not lost."""
    for how in ("unlock", "close"):
        s = new_sync()
        guard = s.lock(f"watched-{how}", ttl=10)
        woke: List[bool] = []
        waiter = threading.Thread(target=lambda: woke.append(guard.wait_lost(timeout=10)))
        waiter.start()
        time.sleep(0.2)  # blocked in wait_lost
        if how == "unlock":
            guard.unlock()
        else:
            s.close()
        waiter.join(10)
        assert woke == [False], how
        assert guard.state == "released" and not guard.is_lost, how


def test_H1_a_lock_lost_to_its_lease_before_close_stays_lost(new_sync: Factory) -> None:
    """A lock whose lease was lost before ``close`` reads lost after it,
    though nobody watched the guard: the lease tells (as in C and Go)."""
    s, other = new_sync(), new_sync()
    guard = s.lock("lease-gone", ttl=1)  # not watched: no state read
    s._faults().suspend_keepalive(True)
    deadline = time.monotonic() + 10
    taken = None
    while taken is None and time.monotonic() < deadline:
        try:
            taken = other.try_lock("lease-gone", ttl=10)  # s's lease expired
        except vinesync.WouldBlock:
            time.sleep(0.1)
    assert taken is not None, "the lease never expired"
    s.close()
    assert guard.state == "lost" and guard.is_lost
    taken.unlock()


def test_H1_close_ends_the_sync_s_guards_streams_and_reads(new_sync: Factory) -> None:
    """After ``close``: a guard whose state was watched says released (not
    lost), a watcher made from the Sync ends, reads raise Closed."""
    s = new_sync()
    guard = s.lock("closing", ttl=10)
    assert guard.state == "held"  # its lost signal is watched from now on
    watcher = s.watch_elect(ns="closing")
    leader = s.leader("svc", ns="closing", id="a")
    leader.wait_elected(timeout=5)
    s.close()
    assert guard.state == "released" and not guard.is_lost
    assert not leader.is_primary
    events = list(watcher)  # what was buffered, then the end
    assert all(e.member.id == "a" for e in events), events
    with pytest.raises(vinesync.Closed):
        s.lock_info("closing")
    with pytest.raises(vinesync.Closed):
        leader.primary()
