"""The Python worker of the fault suite (same protocol as the Rust worker,
tests/faults/src/bin/vinesync-fault-worker.rs):

    worker.py lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS
    worker.py elect NAME NS TTL_S SECONDS

with VINESYNC_NODES and VINESYNC_PREFIX in the environment."""

from __future__ import annotations

import socket
import sys
import threading
import time

import vinesync


def say(line: str) -> None:
    print(line, flush=True)


def lock_rounds(name: str, id: str, rounds: int, ttl: float, resource: str, hold_ms: int) -> None:
    s = vinesync.Sync.from_env()
    host, port = resource.rsplit(":", 1)
    conn = socket.create_connection((host, int(port)))
    stream = conn.makefile("rw")

    def ask(request: str) -> str:
        stream.write(request + "\n")
        stream.flush()
        return stream.readline().strip()

    for _ in range(rounds):
        guard = s.lock(id, ttl=ttl)
        token = guard.fencing_token
        say(f"HOLD {token}")
        read = ask(f"READ {token}")
        if read.startswith("VALUE "):
            time.sleep(hold_ms / 1000)  # the critical section (a pause lands here)
            answer = ask(f"WRITE {token} {int(read.split()[1]) + 1}")
        else:
            answer = read  # turned away already at the read
        say(f"ACK {token}" if answer == "OK" else f"STALE {token}")
        lost = guard.is_lost or (answer != "OK" and guard.wait_lost(timeout=5))
        if not lost:
            try:
                guard.unlock()
            except vinesync.Lost:
                lost = True
        if lost:
            say(f"LOST {token}")
    s.close()


def elect(name: str, ns: str, ttl: int, seconds: float) -> None:
    s = vinesync.Sync.from_env()
    watcher = s.watch_elect(ns=ns)
    leader = s.leader("faults", ns=ns, id=name, ttl=ttl)

    def watch() -> None:
        for event in watcher:
            if event.kind == "elected":
                say(f"WATCHED {event.member.id} {time.time_ns()}")

    def status() -> None:
        for primary in leader.status():
            say(f"{'ELECTED' if primary else 'DEMOTED'} {time.time_ns()}")

    threads = [threading.Thread(target=watch, daemon=True), threading.Thread(target=status, daemon=True)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    say(f"UNWATCHING {time.time_ns()}")  # every change before this was expected
    watcher.close()
    leader.resign()
    for t in threads:
        t.join(timeout=5)
    s.close()


def main(argv: list[str]) -> int:
    if len(argv) == 7 and argv[0] == "lock":
        _, name, id, rounds, ttl, resource, hold_ms = argv
        lock_rounds(name, id, int(rounds), float(ttl), resource, int(hold_ms))
    elif len(argv) == 5 and argv[0] == "elect":
        _, name, ns, ttl, seconds = argv
        elect(name, ns, int(ttl), float(seconds))
    else:
        print("usage: worker.py lock|elect ...", file=sys.stderr)
        return 2
    say("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
