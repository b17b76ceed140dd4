"""Elections through the Python API: SPEC E1–E8, each test named by its rule."""

from __future__ import annotations

import threading
from typing import List

import pytest

import vinesync
from conftest import Factory, wait_until


def primaries(s: vinesync.Sync, ns: str) -> List[str]:
    return [m.id for m in s.list_members(ns=ns) if m.role == "primary"]


def test_E1_leader_returns_at_once_and_is_listed(s: vinesync.Sync) -> None:
    leader = s.leader("svc", ns="e1", id="first", ttl=5)
    members = s.list_members(ns="e1")
    assert [(m.leader, m.id, m.namespace) for m in members] == [("svc", "first", "e1")]
    assert leader.id == "first" and leader.name == "svc" and leader.namespace == "e1"
    leader.resign()


def test_E1_default_id_is_a_uuid(s: vinesync.Sync) -> None:
    with s.leader("svc", ns="e1-uuid", ttl=5) as leader:
        assert len(leader.id) == 36 and leader.id.count("-") == 4


def test_E2_one_primary_lowest_revision(new_sync: Factory) -> None:
    a, b = new_sync(), new_sync()
    leaders = [a.leader("svc", ns="e2", id=f"c{i}", ttl=5) for i in range(2)]
    leaders.append(b.leader("svc", ns="e2", id="c2", ttl=5))
    assert leaders[0].wait_elected(timeout=10)
    assert primaries(a, "e2") == ["c0"]
    assert [l.is_primary for l in leaders] == [True, False, False]
    assert leaders[0].fencing_token < leaders[1].fencing_token < leaders[2].fencing_token
    for l in leaders:
        l.resign()


def test_E3_status_true_on_election_false_on_resign(s: vinesync.Sync) -> None:
    leader = s.leader("svc", ns="e3", ttl=5)
    status = leader.status()
    assert status.next(timeout=10) is True
    leader.resign()
    assert status.next(timeout=10) is False
    with pytest.raises(StopIteration):
        status.next(timeout=10)  # the candidacy is over


def test_E3_wait_elected_times_out_then_succeeds(s: vinesync.Sync) -> None:
    first = s.leader("svc", ns="e3w", id="a", ttl=5)
    second = s.leader("svc", ns="e3w", id="b", ttl=5)
    assert second.wait_elected(timeout=0.1) is False
    first.resign()
    assert second.wait_elected(timeout=10) is True
    second.resign()
    with pytest.raises(vinesync.Lost):
        second.wait_elected(timeout=1)


def test_E4_resign_hands_over_and_is_idempotent(new_sync: Factory) -> None:
    a, b = new_sync(), new_sync()
    first = a.leader("svc", ns="e4", id="a", ttl=30)
    second = b.leader("svc", ns="e4", id="b", ttl=30)
    assert first.wait_elected(timeout=10)
    first.resign()
    first.resign()
    assert first.is_ended
    # Well within the 30 s TTL: the handover does not wait for a lease.
    assert second.wait_elected(timeout=10)
    assert primaries(a, "e4") == ["b"]
    second.resign()


def test_E5_failover_when_the_primary_process_dies(new_sync: Factory) -> None:
    dying, survivor = new_sync(), new_sync()
    primary = dying.leader("svc", ns="e5", id="dying", ttl=1)
    follower = survivor.leader("svc", ns="e5", id="survivor", ttl=5)
    assert primary.wait_elected(timeout=10)
    dying._faults().crash()
    # TTL + 1 s is the rule; 2 s more absorb a loaded machine (the same
    # bound as the C, Go and Rust tests).
    assert follower.wait_elected(timeout=1 + 1 + 2)
    follower.resign()


def test_E6_observe_and_primary(new_sync: Factory) -> None:
    s = new_sync()
    first = s.leader("svc", ns="e6", id="a", ttl=5)
    second = s.leader("svc", ns="e6", id="b", ttl=5)
    observer = first.observe()
    seen = observer.next(timeout=10)
    assert (seen.namespace, seen.id) == ("e6", "a")
    assert first.primary().id == "a"
    first.resign()
    assert observer.next(timeout=10).id == "b"
    assert second.primary().id == "b"
    observer.close()
    second.resign()
    with pytest.raises(vinesync.NoLeader):
        second.primary()


def test_E7_members_of_a_namespace_only_in_campaign_order(s: vinesync.Sync) -> None:
    mine = [s.leader("svc", ns="ns", id=f"m{i}", ttl=5) for i in range(3)]
    other = s.leader("svc", ns="ns2", id="other", ttl=5)
    members = s.list_members(ns="ns")
    assert [m.id for m in members] == ["m0", "m1", "m2"]
    assert [m.role for m in members] == ["primary", "follow", "follow"]
    assert [m.is_primary for m in members] == [True, False, False]
    assert s.list_members(ns="ns2")[0].id == "other"
    assert s.list_members(ns="empty") == []
    for l in mine + [other]:
        l.resign()


def test_E8_watch_reports_join_election_and_leave(s: vinesync.Sync) -> None:
    with s.watch_elect(ns="e8") as watcher:
        a = s.leader("svc", ns="e8", id="a", ttl=5)
        b = s.leader("svc", ns="e8", id="b", ttl=5)
        a.resign()
        wanted = [("joined", "a"), ("elected", "a"), ("joined", "b"), ("left", "a"), ("elected", "b")]
        got = []
        while len(got) < len(wanted):
            event = watcher.next(timeout=10)
            got.append((event.kind, event.member.id))
        assert got == wanted
        b.resign()
        event = watcher.next(timeout=10)
        assert (event.kind, event.member.id, event.member.namespace) == ("left", "b", "e8")
        assert event.revision > 0


def test_E8_watch_filtered_to_one_member(s: vinesync.Sync) -> None:
    watcher = s.watch_elect(ns="e8f", id="b")
    a = s.leader("svc", ns="e8f", id="a", ttl=5)
    b = s.leader("svc", ns="e8f", id="b", ttl=5)
    a.resign()
    kinds = [watcher.next(timeout=10).kind for _ in range(2)]
    assert kinds == ["joined", "elected"]
    b.resign()
    event = watcher.next(timeout=10)
    assert (event.kind, event.member.id) == ("left", "b")
    watcher.close()


def test_E8_H1_close_ends_a_watch_blocked_in_another_thread(s: vinesync.Sync) -> None:
    watcher = s.watch_elect(ns="e8c")
    ended = threading.Event()

    def consume() -> None:
        for _ in watcher:
            pass
        ended.set()

    t = threading.Thread(target=consume)
    t.start()
    watcher.close()
    t.join(timeout=10)
    assert ended.is_set()


def test_leader_context_manager_resigns(s: vinesync.Sync) -> None:
    with pytest.raises(RuntimeError):
        with s.leader("svc", ns="ctx", id="x", ttl=5) as leader:
            assert leader.wait_elected(timeout=10)
            raise RuntimeError("inside")
    assert s.list_members(ns="ctx") == []
    assert "ended" in repr(leader)


def test_member_values_compare_and_print(s: vinesync.Sync) -> None:
    with s.leader("svc", ns="vals", id="v", ttl=5):
        m1, m2 = s.list_members(ns="vals")[0], s.list_members(ns="vals")[0]
        assert m1 == m2 and hash(m1) == hash(m2)
        assert repr(m1) == 'Member(leader="svc", id="v", namespace="vals", role="primary")'
