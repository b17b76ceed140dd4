"""Python rows of `make bench`: vinesync lock+unlock from Python on the
memory store and on etcd, and python-etcd3's Lock (acquire + release) as the
baseline a Python user would pick instead. Prints one JSON line per
measurement (read by vinesync-bench --external): section, language, kind,
per-operation samples in nanoseconds, and the total time of all operations.

BENCH_QUICK=1 measures less; etcd rows need VINESYNC_NODES."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Callable, List

import vinesync

QUICK = os.environ.get("BENCH_QUICK") == "1"
BATCH, BATCHES = (200, 10) if QUICK else (2000, 50)
ETCD_OPS = 50 if QUICK else 500
# One short round of the interleaved etcd ratio (make bench alternates this
# program with the Rust floor): the vinesync etcd row only.
ROUND_OPS = int(os.environ.get("BENCH_ETCD_OPS", "0") or 0)
if ROUND_OPS > 0:
    ETCD_OPS = ROUND_OPS


def emit(section: str, kind: str, samples: List[float], total_ns: float, ops: int) -> None:
    print(
        json.dumps(
            {
                "section": section,
                "language": "python",
                "kind": kind,
                "samples_ns": samples,
                "total_ns": total_ns,
                "ops": ops,
            }
        ),
        flush=True,
    )


def batches(op: Callable[[], None]) -> None:
    """Memory: per-operation means of timed batches (one sample each)."""
    for _ in range(BATCH):  # warm up
        op()
    samples, total = [], 0.0
    for _ in range(BATCHES):
        start = time.perf_counter_ns()
        for _ in range(BATCH):
            op()
        elapsed = time.perf_counter_ns() - start
        samples.append(elapsed / BATCH)
        total += elapsed
    emit("memory", "lock+unlock", samples, total, BATCH * BATCHES)


def singles(section: str, kind: str, op: Callable[[], None]) -> None:
    """etcd: every operation timed on its own."""
    for _ in range(5):
        op()
    samples = []
    for _ in range(ETCD_OPS):
        start = time.perf_counter_ns()
        op()
        samples.append(time.perf_counter_ns() - start)
    emit(section, kind, samples, sum(samples), ETCD_OPS)


def main() -> int:
    if ROUND_OPS == 0:
        memory = vinesync.Sync.memory(prefix="/bench/python")

        def memory_op() -> None:
            memory.lock("bench", ttl=60).unlock()

        batches(memory_op)
        memory.close()

    nodes = [n for n in os.environ.get("VINESYNC_NODES", "").split(",") if n]
    if not nodes:
        print("bench.py: VINESYNC_NODES is not set: etcd rows skipped", file=sys.stderr)
        return 0
    etcd = vinesync.Sync.etcd(nodes, prefix="/bench/python")

    def etcd_op() -> None:
        etcd.lock("bench", ttl=60).unlock()

    singles("etcd", "lock+unlock", etcd_op)
    etcd.close()
    if ROUND_OPS > 0:
        return 0

    try:
        import etcd3  # type: ignore[import-untyped]
    except ImportError as error:
        print(f"bench.py: python-etcd3 is not installed ({error}): its row is skipped", file=sys.stderr)
        return 0
    host, port = nodes[0].rsplit(":", 1)
    client = etcd3.client(host=host, port=int(port))
    lock = client.lock("bench-python-etcd3", ttl=60)

    def etcd3_op() -> None:
        lock.acquire()
        lock.release()

    singles("etcd", "baseline python-etcd3", etcd3_op)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
