"""The seed's lock example ("分布式锁") in Python: the handle takes lock1, a
second thread on the same handle waits for it, unlock hands it over.

Memory backend by default; etcd when VINESYNC_NODES is set:
    python examples/python/lock.py
    VINESYNC_NODES=127.0.0.1:2379 python examples/python/lock.py
"""

from __future__ import annotations

import sys
import threading

import vinesync


def main() -> int:
    s = vinesync.Sync.from_env()
    print(f"backend: {s} (prefix {s.options().prefix})")

    # take the lock (held by the handle, vine style, until unlock("lock1"))
    first = s.lock("lock1", ttl=3)
    print(f"main: lock1 taken, fencing token {first.fencing_token}")

    locked = threading.Event()

    def second() -> None:
        with s.lock("lock1", ttl=3) as guard:
            print(f"Locked (thread 2 holds lock1, fencing token {guard.fencing_token})")
            locked.set()
        print("thread 2 released lock1")

    waiter = threading.Thread(target=second)
    waiter.start()

    # release the lock: the waiting thread gets it
    s.unlock("lock1")
    print("lock1 released")
    waiter.join()
    s.close()
    return 0 if locked.is_set() else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except vinesync.Error as error:
        print(f"lock example failed: {error} ({error.kind})", file=sys.stderr)
        sys.exit(1)
