#!/usr/bin/env python3
"""Checks that the declared minimum Rust version (rust-version of the
vinesync crate) is at least the rust-version of every dependency the
lockfile resolves for it (normal dependencies, default features, this
platform): an MSRV that the lockfile honours. Exits 1, naming the
dependencies that need a newer Rust, otherwise prints the MSRV and the
dependency that sets the floor."""
import json
import subprocess
import sys


def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p for p in meta["packages"] if p["name"] == "vinesync")
    declared = root.get("rust_version")
    if not declared:
        print("check-msrv: the vinesync crate declares no rust-version", file=sys.stderr)
        return 1
    # Walk the normal (non-dev, non-build-only) dependency graph.
    seen, stack = set(), [root["id"]]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for dep in nodes[current]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if None in kinds or "build" in kinds:
                stack.append(dep["pkg"])
    seen.discard(root["id"])
    needs = sorted(
        ((packages[i].get("rust_version") or "0", packages[i]["name"], packages[i]["version"]) for i in seen),
        key=lambda t: version(t[0]),
    )
    too_new = [n for n in needs if version(n[0]) > version(declared)]
    if too_new:
        for rust, name, ver in too_new:
            print(f"check-msrv: {name} {ver} needs Rust {rust}, above the declared rust-version {declared}", file=sys.stderr)
        return 1
    rust, name, ver = needs[-1]
    print(f"check-msrv: rust-version {declared} honours all {len(needs)} locked dependencies (highest: {name} {ver} needs {rust})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
