"""Fixtures shared by the Python suite.

Every test runs on the memory backend and, when ``VINESYNC_NODES`` names an
etcd (``make test`` starts one with the harness), on etcd too. With
``VINESYNC_REQUIRE_ETCD=1`` a missing etcd is an error, not a skip. Each test
gets a prefix of its own; afterwards every handle is closed and no key may be
left under the prefix (nothing leaks: SPEC L8, §3).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Callable, Iterator, List

import pytest

import vinesync

ETCD_NODES = [n for n in os.environ.get("VINESYNC_NODES", "").split(",") if n]
REQUIRE_ETCD = os.environ.get("VINESYNC_REQUIRE_ETCD") == "1"


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_ETCD and not ETCD_NODES:
        raise pytest.UsageError("VINESYNC_REQUIRE_ETCD=1 but VINESYNC_NODES is empty")


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
