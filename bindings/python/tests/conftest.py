"""Fixtures shared by the Python suite.

Every test runs on the memory backend and, when ``VINESYNC_NODES`` names an
etcd (``make test`` starts one with the harness), on etcd too. With
``VINESYNC_REQUIRE_ETCD=1`` a missing etcd is an error, not a skip. Each test
gets a prefix of its own; afterwards every handle is closed and no key may be
left under the prefix (nothing leaks: SPEC L8, §3).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import uuid
from typing import Callable, Iterator, List, NoReturn

import pytest

import vinesync

ETCD_NODES = [n for n in os.environ.get("VINESYNC_NODES", "").split(",") if n]
REQUIRE_ETCD = os.environ.get("VINESYNC_REQUIRE_ETCD") == "1"
# `vinesync-etcd` (make test-python passes it): tests that pause etcd start
# an etcd of their own with `vinesync-etcd serve`.
ETCD_HARNESS = os.environ.get("VINESYNC_ETCD_HARNESS", "")


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_ETCD and not ETCD_NODES:
        raise pytest.UsageError("VINESYNC_REQUIRE_ETCD=1 but VINESYNC_NODES is empty")
    if REQUIRE_ETCD and not ETCD_HARNESS:
        raise pytest.UsageError("VINESYNC_REQUIRE_ETCD=1 but VINESYNC_ETCD_HARNESS is empty")


@pytest.fixture(params=["memory", "etcd"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "etcd" and not ETCD_NODES:
        pytest.skip("no etcd: set VINESYNC_NODES (make test does)")
    return name


@pytest.fixture
def prefix() -> str:
    return f"/pytest/{uuid.uuid4().hex[:12]}"


Factory = Callable[[], vinesync.Sync]


def open_sync(backend: str, prefix: str) -> vinesync.Sync:
    if backend == "memory":
        return vinesync.Sync.memory(prefix=prefix)
    return vinesync.Sync.etcd(ETCD_NODES, prefix=prefix)


def wait_until(predicate: Callable[[], bool], limit: float = 10.0, what: str = "condition") -> None:
    """Polls ``predicate`` until it holds; fails after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def new_sync(backend: str, prefix: str) -> Iterator[Factory]:
    """Makes handles on the test's backend and prefix; checks for leaks."""
    made: List[vinesync.Sync] = []

    def make() -> vinesync.Sync:
        s = open_sync(backend, prefix)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    checker = open_sync(backend, prefix)
    try:
        # Keys of closed handles go with their revoked leases; deleting a
        # key in the background after a cancel can take a moment.
        wait_until(lambda: checker._faults().keys() == [], limit=10, what=f"no keys left under {prefix}")
    finally:
        checker.close()


@pytest.fixture
def s(new_sync: Factory) -> vinesync.Sync:
    return new_sync()


class OwnEtcd:
    """An etcd of the test's own (``vinesync-etcd serve``) that it may pause
    (SIGSTOP: requests hang, as with a slow or partitioned etcd)."""

    def __init__(self) -> None:
        # The harness's errors go to a file, not a pipe nobody drains, so
        # that a failed start can say why (etcd's own log is in its text).
        self._errors = tempfile.TemporaryFile(mode="w+")
        self._serve = subprocess.Popen(
            [ETCD_HARNESS, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )
        assert self._serve.stdout is not None
        hello = self._serve.stdout.readline()
        try:
            self.nodes: List[str] = json.loads(hello)["endpoints"]
        except (ValueError, KeyError, TypeError):
            self._failed_start(hello)

    def _failed_start(self, hello: str) -> NoReturn:
        """Stops the harness and raises what it said on stderr."""
        try:
            status = self._serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._serve.kill()
            status = self._serve.wait()
        for pipe in (self._serve.stdin, self._serve.stdout):
            if pipe is not None:
                pipe.close()
        self._errors.seek(0)
        errors = self._errors.read()
        self._errors.close()
        raise RuntimeError(
            f"{ETCD_HARNESS} serve could not start etcd (exit status {status}; "
            f"first line {hello!r}):\n{errors}"
        )

    def _command(self, line: str) -> None:
        assert self._serve.stdin is not None and self._serve.stdout is not None
        self._serve.stdin.write(line + "\n")
        self._serve.stdin.flush()
        answer = self._serve.stdout.readline().strip()
        assert answer == "ok", f"vinesync-etcd serve: {line!r} answered {answer!r}"

    def pause(self) -> None:
        self._command("pause 0")

    def resume(self) -> None:
        self._command("resume 0")

    def stop(self) -> None:
        assert self._serve.stdin is not None
        self._serve.stdin.close()  # EOF: the harness stops etcd and exits
        try:
            self._serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._serve.kill()
            self._serve.wait()
        self._errors.close()


@pytest.fixture
def own_etcd() -> Iterator[OwnEtcd]:
    if not ETCD_HARNESS:
        pytest.skip("no etcd harness: set VINESYNC_ETCD_HARNESS (make test does)")
    etcd = OwnEtcd()
    try:
        yield etcd
    finally:
        etcd.stop()
