"""After os.fork() a child gets a clear error from the parent's handles and
can make new ones that work."""

from __future__ import annotations

import os

import pytest

import vinesync
from conftest import Factory

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def run_in_child(body: "object") -> int:
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = body()  # type: ignore[operator]
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_fork_parent_handle_raises_Closed_naming_fork_in_child(s: vinesync.Sync) -> None:
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


def test_fork_child_can_make_a_new_handle(s: vinesync.Sync, backend: str, prefix: str) -> None:
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
