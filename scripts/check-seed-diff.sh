#!/usr/bin/env bash
# Checks that the Go examples are the seed's programs with only their import
# blocks changed (SPEC §7 Go: "run with only the import lines changed").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seed=${SEED_DIR:-$root/tests/fixtures/seed}
if [ ! -d "$seed" ]; then
  echo "check-seed-diff: the seed examples are not at $seed (set SEED_DIR to another copy)" >&2
  exit 1
fi
# Everything outside the import block.
body() { awk '/^import \($/ {skip=1} !skip {print} skip && /^\)$/ {skip=0}' "$1"; }
status=0
for ex in lock election; do
  for ours in "$root/examples/go/$ex/main.go" "$root/examples/go/memory/$ex/main.go"; do
    if ! diff -u <(body "$seed/$ex/main.go") <(body "$ours") >/dev/null; then
      echo "check-seed-diff: $ours differs from the seed outside its imports:" >&2
      diff -u <(body "$seed/$ex/main.go") <(body "$ours") >&2 || true
      status=1
    fi
  done
done
[ $status -eq 0 ] && echo "check-seed-diff: the Go examples differ from the seed only in their imports"
exit $status
