"""The vine key layout (``layout="vine"``, README "Migrating from vine"):
keys where vine 1.5's etcd plugin puts them, vine's empty default prefix,
and a clear error for an unknown layout."""

from __future__ import annotations

import pytest

import vinesync
from conftest import ETCD_NODES


def open_vine(backend: str, prefix: str) -> vinesync.Sync:
    if backend == "memory":
        return vinesync.Sync.memory(prefix=prefix, layout="vine")
    return vinesync.Sync.etcd(ETCD_NODES, prefix=prefix, layout="vine")


def test_vine_layout_keys(backend: str, prefix: str) -> None:
    s = open_vine(backend, prefix)
    try:
        # vine: path.Join(prefix, strings.Replace(prefix+id, "/", "-", -1))
        flat = (prefix + "lock/1").replace("/", "-")
        guard = s.lock("lock/1", ttl=5)
        assert guard.key.startswith(f"{prefix}/{flat}/"), guard.key
        guard.unlock()
        leader = s.leader("svc", ns="ns", id="me", ttl=5)
        assert leader.key.startswith(f"{prefix}/leaders/ns/"), leader.key
        leader.resign()
    finally:
        s.close()


def test_vine_layout_defaults_to_vines_empty_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VINESYNC_PREFIX", raising=False)
    s = vinesync.Sync.memory(layout="vine")
    try:
        assert s.options().prefix == ""
    finally:
        s.close()


def test_memory_vine_layout_ignores_vinesync_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Sync.memory reads no environment: VINESYNC_PREFIX must not change
    # the vine layout's default (empty) prefix.
    monkeypatch.setenv("VINESYNC_PREFIX", "/from-env")
    s = vinesync.Sync.memory(layout="vine")
    try:
        assert s.options().prefix == ""
    finally:
        s.close()
    s = vinesync.Sync.memory(layout="vine", prefix="/given")
    try:
        assert s.options().prefix == "/given"
    finally:
        s.close()


def test_unknown_layout_is_named() -> None:
    with pytest.raises(vinesync.InvalidArgument, match="'vine2'|\"vine2\""):
        vinesync.Sync.memory(layout="vine2")
