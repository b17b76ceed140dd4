"""The seed's election example ("分布式选举") in Python: join the election as
a new leader, list every member of the namespace, resign.

Memory backend by default; etcd when VINESYNC_NODES is set:
    python examples/python/election.py
"""

from __future__ import annotations

import sys
import uuid

import vinesync


def main() -> int:
    s = vinesync.Sync.from_env()
    print(f"backend: {s} (prefix {s.options().prefix})")
    id = str(uuid.uuid4())

    # new leader
    role1 = s.leader("leader", ns="default", id=id, ttl=3)

    # list all election members
    for m in s.list_members(ns="default"):
        print(m)

    # the member resigns
    role1.resign()
    print(f"{role1.id} resigned")
    s.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except vinesync.Error as error:
        print(f"election example failed: {error} ({error.kind})", file=sys.stderr)
        sys.exit(1)
