"""Security: run by ``make test-security`` under ``vinesync-etcd run --mtls
--auth`` (mutual TLS, and a user whose role covers /secured/ only; the
settings come in VINESYNC_*). Right settings connect; wrong ones fail with
the right exception and never show the password."""

from __future__ import annotations

import os

import pytest

import vinesync

pytestmark = pytest.mark.skipif(
    "auth" not in os.environ.get("VINESYNC_SECURED", ""),
    reason="needs a secured etcd: make test-security",
)

FAST = {"dial_timeout": 2.0, "request_timeout": 4.0}


def test_secured_right_settings_connect_from_env() -> None:
    s = vinesync.Sync.from_env()
    try:
        assert s.name == "etcd"
        options = s.options()
        assert options.user == os.environ["VINESYNC_USER"] and options.has_password
        assert os.environ["VINESYNC_PASSWORD"] not in repr(options)
        with s.lock("py-secured", ttl=5) as guard:
            assert guard.fencing_token > 0
        with s.leader("svc", ns="py-secured", ttl=5) as leader:
            assert leader.wait_elected(timeout=10)
    finally:
        s.close()


def test_secured_wrong_password_is_Unauthenticated_without_the_password() -> None:
    wrong = "wrong-py-Pa55"
    with pytest.raises(vinesync.Unauthenticated) as raised:
        vinesync.Sync.etcd(user=os.environ["VINESYNC_USER"], password=wrong, **FAST)
    assert wrong not in str(raised.value)
    assert os.environ["VINESYNC_USER"] in str(raised.value)


def test_secured_prefix_outside_the_role_is_PermissionDenied() -> None:
    with pytest.raises(vinesync.PermissionDenied):
        vinesync.Sync.etcd(prefix="/not-mine", **FAST)


def test_secured_foreign_client_certificate_fails_naming_TLS() -> None:
    with pytest.raises(vinesync.Unavailable, match="TLS"):
        vinesync.Sync.etcd(
            cert_file=os.environ["VINESYNC_TEST_OTHER_CERT"],
            key_file=os.environ["VINESYNC_TEST_OTHER_KEY"],
            **FAST,
        )


def test_secured_wrong_ca_fails_naming_TLS() -> None:
    with pytest.raises(vinesync.Unavailable, match="TLS"):
        vinesync.Sync.etcd(ca_file=os.environ["VINESYNC_TEST_OTHER_CA"], **FAST)
