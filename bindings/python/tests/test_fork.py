"""After os.fork() a child gets a clear error from the parent's handles,
touches nothing of the parent's, and can make new ones that work (SPEC H5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import vinesync
from conftest import Factory

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def run_in_child(body: "object", limit: float = 30.0) -> int:
    """Runs ``body`` in a forked child; its exit code. A child still running
    after ``limit`` seconds (hung, e.g. on a lock the parent held at the
    fork) is killed, and the test fails saying so."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = body()  # type: ignore[operator]
        finally:
            os._exit(code)
    deadline = time.monotonic() + limit
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"the child did not finish within {limit} s (killed)")
        time.sleep(0.01)


def test_H5_fork_parent_handle_raises_Closed_naming_fork_in_child(s: vinesync.Sync) -> None:
    guard = s.lock("parent", ttl=10)

    def child() -> int:
        try:
            s.lock("x", ttl=5)
        except vinesync.Closed as e:
            if "os.fork()" not in str(e):
                return 3
        else:
            return 2
        try:
            guard.unlock()
        except vinesync.Closed:
            return 0
        return 4

    assert run_in_child(child) == 0
    guard.unlock()  # the parent's handle still works


def test_H5_fork_child_reads_the_parent_s_objects_as_closed(s: vinesync.Sync) -> None:
    """In the child the parent's lock and primary role are not its own:
    the properties say so (a pre-fork server's workers all read
    ``is_primary`` True from the parent's leader before)."""
    guard = s.lock("parent-state", ttl=10)
    leader = s.leader("svc", ns="fork-state", id="parent")
    leader.wait_elected(timeout=5)
    lock = vinesync.Lock(s, "parent-lock", ttl=10)
    assert lock.acquire()

    def child() -> int:
        checks = [
            s.closed,
            not leader.is_primary,
            leader.is_ended,
            guard.state == "released",
            guard.is_released and not guard.is_lost,
            not lock.owned(),
        ]
        return 0 if all(checks) else 10 + checks.index(False)

    assert run_in_child(child) == 0
    # The parent's view is unchanged.
    assert not s.closed and leader.is_primary and guard.state == "held" and lock.owned()
    lock.release()
    leader.resign()
    guard.unlock()


def test_H5_fork_child_can_make_a_new_handle(s: vinesync.Sync, backend: str, prefix: str) -> None:
    s.lock("warm-up", ttl=5).unlock()  # the parent's runtime is running

    def child() -> int:
        from conftest import open_sync

        c = open_sync(backend, prefix + "/child")
        with c.lock("in-child", ttl=5) as g:
            ok = g.fencing_token > 0
        with c.leader("svc", ns="child", ttl=5) as leader:
            ok = ok and leader.wait_elected(timeout=10)
        c.close()
        return 0 if ok else 5

    assert run_in_child(child) == 0


def test_H5_fork_child_memory_store_is_its_own(s: vinesync.Sync, backend: str, prefix: str) -> None:
    """On etcd the child sees the parent's lock; in memory the child gets an
    empty store of its own (as libvinesync's child does), not a copy of the
    parent's, whose keys have no owner in the child and whose mutex another
    thread of the parent may have held at fork()."""
    guard = s.lock("parent", ttl=30)

    def child() -> int:
        from conftest import open_sync

        c = open_sync(backend, prefix)
        try:
            c.try_lock("parent", ttl=5).unlock()
            taken = True
        except vinesync.WouldBlock:
            taken = False
        c.close()
        return 0 if taken == (backend == "memory") else 6

    assert run_in_child(child) == 0
    assert guard.state == "held"
    guard.unlock()


FORK_EXIT = textwrap.dedent(
    """
    import os, sys, time, vinesync
    s = {make}
    guard = s.lock("parent", ttl=30)
    leader = s.leader("svc", ns="fork", ttl=30)
    watcher = s.watch_elect(ns="fork")
    pid = os.fork()
    if pid == 0:
        sys.exit(0)  # a normal exit: atexit, finalizers
    started = time.monotonic()
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), round(time.monotonic() - started, 2), guard.state,
          leader.is_ended, len(s._faults().keys()), flush=True)
    """
)


def test_H5_fork_child_exit_touches_nothing_of_the_parent(backend: str, prefix: str) -> None:
    from conftest import ETCD_NODES

    if backend == "memory":
        make = f"vinesync.Sync.memory(prefix={prefix!r})"
    else:
        make = f"vinesync.Sync.etcd({ETCD_NODES!r}, prefix={prefix!r})"
    parent = subprocess.run(
        [sys.executable, "-c", FORK_EXIT.format(make=make)], capture_output=True, text=True, timeout=60
    )
    assert parent.returncode == 0, parent.stderr
    code, seconds, state, ended, keys = parent.stdout.split()
    assert code == "0", parent.stdout
    # No stall closing the parent's handles (was ~2 s), and they are intact:
    # the lock and the candidacy still held, both keys still there.
    assert float(seconds) < 1.0, parent.stdout
    assert (state, ended, keys) == ("held", "False", "2"), parent.stdout
