"""The Python worker of the fault suite (same protocol as the Rust worker,
tests/faults/src/bin/vinesync-fault-worker.rs):

    worker.py lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS
    worker.py elect NAME NS TTL_S SECONDS

with VINESYNC_NODES and VINESYNC_PREFIX in the environment. Events are
stamped with time.monotonic_ns() (CLOCK_MONOTONIC, the suite's clock). A
candidate campaigns until a line (STOP) arrives on stdin, or for at most
SECONDS."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import vinesync


_say_lock = threading.Lock()


def say(line: str) -> None:
    # One line at a time: the watch and campaign threads both report, and
    # print() writes the text and its newline separately (two lines once
    # came out as one, and both events were lost to the checker).
    with _say_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def now() -> int:
    return time.monotonic_ns()


def lock_rounds(s: vinesync.Sync, id: str, rounds: int, ttl: float, resource: str, hold_ms: int) -> None:
    host, port = resource.rsplit(":", 1)
    conn = socket.create_connection((host, int(port)))
    stream = conn.makefile("rw")

    def ask(request: str) -> str:
        stream.write(request + "\n")
        stream.flush()
        return stream.readline().strip()

    short_wait = int(os.environ.get("VINESYNC_FAULTS_SHORT_WAIT_MS", "30")) / 1000
    for _ in range(rounds):
        # A short wait that often runs out first: its waiter key must go (L8).
        try:
            guard = s.lock(id, ttl=ttl, wait=short_wait or None)
        except vinesync.LockTimeout:
            say(f"GAVE-UP {now()}")
            guard = s.lock(id, ttl=ttl)
        token = guard.fencing_token
        say(f"HOLD {token} {now()}")
        read = ask(f"READ {token}")
        if read.startswith("VALUE "):
            time.sleep(hold_ms / 1000)  # the critical section (a pause lands here)
            answer = ask(f"WRITE {token} {int(read.split()[1]) + 1}")
        else:
            answer = read  # turned away already at the read
        say(f"ACK {token}" if answer == "OK" else f"STALE {token}")
        if guard.is_lost:
            say(f"LOST {token} {now()}")
            continue
        say(f"RELEASE {token} {now()}")
        try:
            guard.unlock()
            say(f"RELEASED {token} {now()}")
        except vinesync.Lost:
            say(f"LOST {token} {now()}")


def resign(leader: vinesync.Leader) -> None:
    try:
        leader.resign()
    except vinesync.Lost:
        pass


def elect(s: vinesync.Sync, name: str, ns: str, ttl: int, seconds: float) -> None:
    watcher = s.watch_elect(ns=ns)
    say(f"WATCHING {now()}")
    # The candidacy now running. Once stopped, a candidacy that the campaign
    # thread joins after all is resigned there, never kept.
    mutex = threading.Lock()
    current = s.leader("faults", ns=ns, id=name, ttl=ttl)
    stopped = False

    def watch() -> None:
        for event in watcher:
            if event.kind == "elected":
                say(f"WATCHED {event.member.id} {now()}")

    def campaign() -> None:
        nonlocal current
        while True:
            with mutex:
                leader = current
            for primary in leader.status():
                say(f"{'ELECTED' if primary else 'DEMOTED'} {now()}")
            # The candidacy ended (its lease was lost, or it was resigned):
            # a real service runs again unless it is stopping.
            with mutex:
                if stopped:
                    return
            following = s.leader("faults", ns=ns, id=name, ttl=ttl)
            with mutex:
                if not stopped:
                    current = following
                    continue
            resign(following)
            return

    # The suite says when to stop (a line on stdin); SECONDS is the limit.
    told_to_stop = threading.Event()

    def listen() -> None:
        sys.stdin.readline()
        told_to_stop.set()

    threading.Thread(target=listen, daemon=True).start()
    watching = threading.Thread(target=watch, daemon=True)
    campaigning = threading.Thread(target=campaign, daemon=True)
    watching.start()
    campaigning.start()
    told_to_stop.wait(seconds)
    with mutex:
        stopped = True
        last = current
    say(f"UNWATCHING {now()}")  # every change before this was expected
    watcher.close()
    resign(last)
    # A candidacy joined meanwhile is resigned before IDLE (waited for up
    # to 30 s: a join blocks while etcd has no quorum).
    campaigning.join(timeout=30)
    watching.join(timeout=5)


def main(argv: list[str]) -> int:
    if len(argv) not in (5, 7) or argv[0] not in ("lock", "elect"):
        print("usage: worker.py lock|elect ...", file=sys.stderr)
        return 2
    s = vinesync.Sync.from_env()
    if argv[0] == "lock" and len(argv) == 7:
        _, name, id, rounds, ttl, resource, hold_ms = argv
        lock_rounds(s, id, int(rounds), float(ttl), resource, int(hold_ms))
    elif argv[0] == "elect" and len(argv) == 5:
        _, name, ns, ttl, seconds = argv
        elect(s, name, ns, int(ttl), float(seconds))
    else:
        print("usage: worker.py lock|elect ...", file=sys.stderr)
        return 2
    # Alive and idle until the suite closes stdin: it checks for leaks now.
    say(f"IDLE {now()}")
    sys.stdin.read()
    s.close()
    say("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
