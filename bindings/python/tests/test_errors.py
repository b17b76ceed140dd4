"""Errors (SPEC §6): one class per kind under vinesync.Error, messages that
name what the caller gave, no crash whatever is passed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import vinesync
from conftest import Factory

KINDS = {
    "InvalidArgument": "invalid_argument",
    "LockTimeout": "lock_timeout",
    "WouldBlock": "would_block",
    "NotLocked": "not_locked",
    "NoLeader": "no_leader",
    "Cancelled": "cancelled",
    "Unavailable": "unavailable",
    "Lost": "lost",
    "Closed": "closed",
    "Unauthenticated": "unauthenticated",
    "PermissionDenied": "permission_denied",
    "Internal": "internal",
}


def test_errors_one_class_per_kind_under_Error() -> None:
    for name, kind in KINDS.items():
        cls = getattr(vinesync, name)
        assert issubclass(cls, vinesync.Error)
        assert cls.kind == kind
    assert issubclass(vinesync.LockTimeout, TimeoutError)
    assert issubclass(vinesync.InvalidArgument, ValueError)


@pytest.mark.parametrize(
    "bad_id, fragment",
    [("", "empty"), ("a\0b", "NUL"), ("x" * 1025, "1024")],
)
def test_errors_invalid_lock_ids_are_named(s: vinesync.Sync, bad_id: str, fragment: str) -> None:
    with pytest.raises(vinesync.InvalidArgument, match=fragment):
        s.lock(bad_id, ttl=5)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"ttl": 0.5}, "LockTTL"),
        ({"ttl": -1.0}, "ttl"),
        ({"ttl": float("nan")}, "ttl"),
        ({"wait": float("inf")}, "wait"),
        ({"ttl": 1e300}, r"ttl=1e300 .*\(too large\)"),
    ],
)
def test_errors_invalid_lock_options_are_named(s: vinesync.Sync, kwargs: dict, fragment: str) -> None:
    with pytest.raises(vinesync.InvalidArgument, match=fragment):
        s.lock("opts", **kwargs)


def test_errors_invalid_leader_options_are_named(s: vinesync.Sync) -> None:
    with pytest.raises(vinesync.InvalidArgument, match="LeaderTTL"):
        s.leader("l", ttl=0)
    with pytest.raises(vinesync.InvalidArgument, match="LeaderNS"):
        s.leader("l", ns="")
    with pytest.raises(vinesync.InvalidArgument, match="leader name"):
        s.leader("")


def test_errors_wrong_python_types_raise_TypeError(s: vinesync.Sync) -> None:
    with pytest.raises(TypeError):
        s.lock(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.lock("x", ttl="3")  # type: ignore[arg-type]


def test_errors_text_that_cannot_be_utf8_raises_UnicodeEncodeError(s: vinesync.Sync) -> None:
    """A lone surrogate cannot be UTF-8: Python's own UnicodeEncodeError (a
    ValueError, as str.encode() raises), naming the character; no key is
    written."""
    for call in (
        lambda: s.lock("a\ud800"),
        lambda: s.try_lock("a\ud800"),
        lambda: s.leader("svc", id="\udfff"),
        lambda: s.watch_elect(ns="\ud800"),
    ):
        with pytest.raises(UnicodeEncodeError, match="surrogates not allowed") as raised:
            call()
        assert isinstance(raised.value, ValueError)
    assert s._faults().keys() == []


def test_errors_bad_prefix_is_named() -> None:
    with pytest.raises(vinesync.InvalidArgument, match="Prefix"):
        vinesync.Sync.memory(prefix="no-slash")


def test_H1_errors_closed_handle_raises_Closed(new_sync: Factory) -> None:
    s = new_sync()
    s.close()
    s.close()  # idempotent
    assert s.closed
    with pytest.raises(vinesync.Closed):
        s.lock("x", ttl=5)
    with pytest.raises(vinesync.Closed):
        s.list_members()


def test_errors_unreachable_etcd_is_Unavailable_naming_the_endpoint() -> None:
    # A loopback port nobody listens on (port 1 needs root to bind).
    with pytest.raises(vinesync.Unavailable, match="127.0.0.1:1"):
        vinesync.Sync.etcd(["127.0.0.1:1"], dial_timeout=0.5, request_timeout=1.0)


def test_errors_password_without_user_is_rejected() -> None:
    with pytest.raises(vinesync.InvalidArgument, match="password"):
        vinesync.Sync.etcd(["127.0.0.1:1"], password="secret-value")


def test_options_read_back_without_the_password(s: vinesync.Sync, prefix: str) -> None:
    options = s.options()
    assert options.prefix == prefix
    assert not options.has_password
    assert str(s) == s.name and s.name in ("memory", "etcd")


FROM_ENV = """
import vinesync
try:
    vinesync.Sync.from_env()
except vinesync.InvalidArgument as e:
    print(e)
"""


@pytest.mark.parametrize("name", ["VINESYNC_PREFIX", "VINESYNC_NODES", "VINESYNC_LAYOUT", "VINESYNC_PASSWORD"])
def test_environment_value_that_is_not_utf8_is_named(name: str) -> None:
    """Not silently ignored (a non-UTF-8 VINESYNC_PREFIX used to give the
    default prefix, shared with everybody else's)."""
    env = dict(os.environb)
    env[b"VINESYNC_USER"] = b"user"
    env[b"VINESYNC_DIAL_TIMEOUT_MS"] = b"300"
    env[name.encode()] = b"/\xff"
    out = subprocess.run([sys.executable, "-c", FROM_ENV], env=env, capture_output=True, timeout=60)
    assert f"{name} is not valid UTF-8".encode() in out.stdout, out
    assert b"\xff" not in out.stdout


def test_environment_password_without_a_user_is_named() -> None:
    env = {k: v for k, v in os.environb.items() if k != b"VINESYNC_USER"}
    env[b"VINESYNC_PASSWORD"] = b"secret"
    env[b"VINESYNC_DIAL_TIMEOUT_MS"] = b"300"
    out = subprocess.run([sys.executable, "-c", FROM_ENV], env=env, capture_output=True, timeout=60)
    assert b"VINESYNC_PASSWORD is set but VINESYNC_USER is not" in out.stdout, out
    assert b"secret" not in out.stdout
