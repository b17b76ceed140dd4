"""Lock inspection: ``Sync.lock_info`` lists a lock's holder and its
waiters in order, read only."""

from __future__ import annotations

import os
import threading

import pytest

import vinesync
from conftest import Factory, wait_until


def test_lock_info_lists_holder_and_waiters(new_sync: Factory) -> None:
    holder, waiter = new_sync(), new_sync()
    free = holder.lock_info("inspected")
    assert free.id == "inspected" and free.holder is None and free.waiters == []

    guard = holder.lock("inspected", ttl=10)
    got = threading.Event()

    def wait_for_it() -> None:
        with waiter.lock("inspected", ttl=10, wait=10):
            got.set()

    thread = threading.Thread(target=wait_for_it)
    thread.start()
    wait_until(lambda: len(holder.lock_info("inspected").waiters) == 1, what="one waiter")
    info = holder.lock_info("inspected")
    assert info.holder is not None
    h, w = info.holder, info.waiters[0]
    assert h.fencing_token == guard.fencing_token < w.fencing_token
    assert h.pid == w.pid == os.getpid()
    assert h.handle == holder.handle_id and w.handle == waiter.handle_id
    assert h.host and h.value is None
    assert repr(h) == (
        f"LockEntry(key={h.key!r}, fencing_token={h.fencing_token}, host={h.host!r}, pid={h.pid})"
    )
    assert "/locks/inspected/" in h.key and h.lease != 0
    assert not got.is_set()

    guard.unlock()
    thread.join(10)
    assert got.is_set()
    assert holder.lock_info("inspected").holder is None


def test_lock_info_bad_id_is_invalid_argument(s: vinesync.Sync) -> None:
    with pytest.raises(vinesync.InvalidArgument, match="lock id"):
        s.lock_info("")
