"""Blocking calls release the GIL and honour Ctrl-C (SPEC §7, L8)."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import vinesync
from conftest import ETCD_NODES, Factory, open_sync, wait_until


def test_gil_released_while_waiting_for_a_lock(new_sync: Factory) -> None:
    holder, waiter = new_sync(), new_sync()
    holder.lock("gil", ttl=10)
    calling = threading.Event()
    window: dict = {}

    def spin() -> None:
        # Counts pure-Python steps in a window that starts 0.1 s into the
        # blocking call and lasts 0.2 s, well before the call's 3 s wait
        # runs out. A thread only steps while nobody holds the GIL: had the
        # call kept it, this thread could not even wake up before it
        # returned, and the window would end after the call.
        calling.wait()
        time.sleep(0.1)
        steps, end = 0, time.monotonic() + 0.2
        while time.monotonic() < end:
            steps += 1
        window["steps"], window["ended"] = steps, time.monotonic()

    t = threading.Thread(target=spin)
    t.start()
    calling.set()
    try:
        with pytest.raises(vinesync.LockTimeout):
            # The wait outlasts the spinning window (0.3 s after the call
            # began) by far, even on a loaded machine.
            waiter.lock("gil", ttl=10, wait=3.0)
        returned = time.monotonic()
    finally:
        t.join()
    assert window["ended"] < returned, "the spinning thread only ran after the call returned"
    assert window["steps"] > 1000


def test_ctrl_c_interrupts_a_lock_wait_and_removes_the_key_L8(new_sync: Factory) -> None:
    holder, waiter = new_sync(), new_sync()
    holder.lock("sigint", ttl=10)

    def keys() -> int:
        return len([k for k in holder._faults().keys() if "/locks/sigint/" in k])

    def interrupt_when_queued() -> None:
        wait_until(lambda: keys() == 2, what="waiter queued")
        _thread.interrupt_main()  # what Ctrl-C does

    threading.Thread(target=interrupt_when_queued).start()
    with pytest.raises(KeyboardInterrupt):
        waiter.lock("sigint", ttl=10)
    wait_until(lambda: keys() == 1, what="the interrupted waiter's key removed")
    holder.unlock("sigint")


CHILD = textwrap.dedent(
    """
    import sys, time, vinesync
    holder, s = {make}, {make}
    holder.lock("sigint", ttl=30)
    keys = lambda: [k for k in holder._faults().keys() if "/locks/sigint/" in k]
    print("waiting", flush=True)
    try:
        s.lock("sigint", ttl=30)
    except KeyboardInterrupt:
        deadline = time.monotonic() + 5
        while len(keys()) != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        print("KeyboardInterrupt", len(keys()), flush=True)
        sys.exit(130)
    """
)


def make_expression(backend: str, prefix: str) -> str:
    if backend == "memory":
        return f"vinesync.Sync.memory(prefix={prefix!r})"
    return f"vinesync.Sync.etcd({ETCD_NODES!r}, prefix={prefix!r})"


def test_ctrl_c_in_a_subprocess_exits_within_a_second_and_leaves_no_key(backend: str, prefix: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(make=make_expression(backend, prefix))],
        stdout=subprocess.PIPE,
        text=True,
    )
    checker = open_sync(backend, prefix)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        if backend == "etcd":  # memory keys live in the child only
            wait_until(lambda: len(checker._faults().keys()) == 2, what="the child's waiter key")
        else:
            time.sleep(0.3)  # let the child start waiting
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=10)
        elapsed = time.monotonic() - started
        output = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == 130, output
    # The child saw only the holder's key left after the interrupt.
    assert output.strip() == "KeyboardInterrupt 1"
    # Promptly: far below the 10 s TTL the key would otherwise live for.
    assert elapsed < 5.0, f"the child took {elapsed:.2f}s to exit after SIGINT"
    try:
        # Its holder's lease was revoked at exit: nothing left on etcd either.
        wait_until(lambda: checker._faults().keys() == [], what="no key left by the child")
    finally:
        checker.close()


EXIT_CHILD = textwrap.dedent(
    """
    import threading, vinesync
    s = {make}
    s.lock("held", ttl=30)
    leader = s.leader("svc", ns="exit", ttl=30)
    watcher = s.watch_elect(ns="exit")
    threading.Thread(target=lambda: list(watcher), daemon=True).start()
    print("ready", flush=True)
    """
)


def test_H4_interpreter_exit_does_not_hang_and_releases_everything(backend: str, prefix: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", EXIT_CHILD.format(make=make_expression(backend, prefix))],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "ready"
    if backend == "etcd":
        checker = open_sync(backend, prefix)
        try:
            assert checker._faults().keys() == []  # leases revoked at exit, not left to expire
        finally:
            checker.close()


def test_ctrl_c_as_a_lock_is_granted_does_not_leave_it_held_L8(new_sync: Factory) -> None:
    """Ctrl-C that arrives just as a blocked ``lock`` gets the lock: the call
    raises KeyboardInterrupt and the lock is not left held for nobody (the
    result was dropped at return, detached into the handle, before)."""
    holder, s, other = new_sync(), new_sync(), new_sync()
    for i in range(8):
        id = f"granted-{i}"
        guard = holder.lock(id, ttl=10)

        def interrupt_then_release() -> None:
            wait_until(lambda: len(holder.lock_info(id).waiters) == 1, what="waiter queued")
            _thread.interrupt_main()  # pending until the waiting thread looks...
            guard.unlock()  # ...which is after the lock reached it

        threading.Thread(target=interrupt_then_release).start()
        try:
            s.lock(id, ttl=10).unlock()
        except KeyboardInterrupt:
            pass
        wait_until(lambda: other.lock_info(id).holder is None, limit=5.0, what=f"{id} free again")


def test_ctrl_c_as_an_event_arrives_keeps_the_event_E8(new_sync: Factory) -> None:
    """The same for a blocked ``next`` of a stream: the event that arrived
    with the interrupt is the next call's."""
    s, other = new_sync(), new_sync()
    for i in range(8):
        ns = f"events-{i}"
        watcher = s.watch_elect(ns=ns)
        waiting = threading.Event()

        def interrupt_then_join() -> None:
            waiting.wait(5)
            time.sleep(0.1)  # the main thread is inside next()
            _thread.interrupt_main()
            other.leader("svc", ns=ns, id=f"c{i}")

        threading.Thread(target=interrupt_then_join).start()
        waiting.set()
        try:
            first = watcher.next(timeout=5)
        except KeyboardInterrupt:
            first = watcher.next(timeout=5)
        assert first.kind == "joined" and first.member.id == f"c{i}", first
        watcher.close()
