#!/usr/bin/env python3
"""Lays out a Go module as a GOPROXY serves it (usable as GOPROXY=file://OUT):
OUT/<module>/@v/{list,VERSION.info,VERSION.mod,VERSION.zip}.

The zip holds the module directory's files that git tracks (as `go get`
would find them in a tagged release), plus --extra files (a build artefact
such as the release static library, never committed)."""

import argparse
import json
import os
import subprocess
import sys
import zipfile


def tracked_files(module_dir):
    out = subprocess.run(["git", "ls-files", "-z", "--", "."], cwd=module_dir,
                         check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--module-dir", required=True)
    ap.add_argument("--module", required=True, help="module path, as in go.mod")
    ap.add_argument("--version", required=True, help="e.g. v0.1.0")
    ap.add_argument("--extra", action="append", default=[],
                    help="PATH_IN_MODULE=FILE to add to the zip")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(os.path.join(args.module_dir, "go.mod")) as f:
        gomod = f.read()
    declared = gomod.split("\n", 1)[0].removeprefix("module").strip()
    if declared != args.module:
        sys.exit(f"go.mod declares {declared!r}, not {args.module!r}")

    vdir = os.path.join(args.out, args.module, "@v")
    os.makedirs(vdir, exist_ok=True)
    prefix = f"{args.module}@{args.version}/"
    with zipfile.ZipFile(os.path.join(vdir, args.version + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for path in tracked_files(args.module_dir):
            z.write(os.path.join(args.module_dir, path), prefix + path)
        for extra in args.extra:
            inside, _, source = extra.partition("=")
            if not inside or not source or not os.path.isfile(source):
                sys.exit(f"--extra {extra!r}: want PATH_IN_MODULE=EXISTING_FILE")
            z.write(source, prefix + inside)
    with open(os.path.join(vdir, args.version + ".mod"), "w") as f:
        f.write(gomod)
    with open(os.path.join(vdir, args.version + ".info"), "w") as f:
        json.dump({"Version": args.version, "Time": "2026-01-01T00:00:00Z"}, f)
    with open(os.path.join(vdir, "list"), "w") as f:
        f.write(args.version + "\n")


if __name__ == "__main__":
    main()
