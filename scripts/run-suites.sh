#!/usr/bin/env bash
# Runs each make target given (the suites of `make test`) in order, stops at
# the first failure, and prints how long each took and which etcd versions
# ran: the summary line of `make test`.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
versions=$(grep -v '^#' "$root/scripts/etcd-versions.txt" | sed 's/=debian/ (Debian)/; s/=v/ v/' | paste -sd, - | sed 's/,/, /g')
times=()
started=$(date +%s)
for target in "$@"; do
  t0=$(date +%s)
  if ! ${MAKE:-make} --no-print-directory "$target"; then
    times+=("$target FAILED after $(( $(date +%s) - t0 ))s")
    echo "make test: FAILED in $target; times: $(IFS=,; echo "${times[*]}")" >&2
    exit 1
  fi
  times+=("$target $(( $(date +%s) - t0 ))s")
done
echo "make test: times: $(IFS=,; echo "${times[*]}" | sed 's/,/, /g')"
echo "make test: etcd versions tested: $versions; total $(( $(date +%s) - started ))s"
