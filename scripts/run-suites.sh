#!/usr/bin/env bash
# Runs each make target given (the suites of `make test`) in order, stops at
# the first failure, and prints how long each took and which etcd versions
# ran: the summary line of `make test`.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
versions=$(grep -v '^#' "$root/scripts/etcd-versions.txt" | sed 's/=debian/ (Debian)/; s/=v/ v/' | paste -sd, - | sed 's/,/, /g')
times=()
started=$(date +%s)

# Free space where the suites write: etcd dies at start without room for its
# 64 MB write-ahead log, and the builds need several GB. Said up front, and
# again with a failure, so a full disk is not mistaken for a test failure.
low_disk_mb=4096
disk_dirs=("${TMPDIR:-/tmp}" "${CARGO_TARGET_DIR:-$root/target}")
free_mb() {
  mkdir -p -- "$1" 2>/dev/null || true
  df -m --output=avail -- "$1" 2>/dev/null | tail -n 1 | tr -d ' '
}
disk_free() {
  local dir
  for dir in "${disk_dirs[@]}"; do echo "$dir $(free_mb "$dir")"; done
}
for dir in "${disk_dirs[@]}"; do
  free=$(free_mb "$dir")
  if [[ "$free" =~ ^[0-9]+$ ]] && (( free < low_disk_mb )); then
    echo "make test: warning: only ${free} MB free in $dir (etcd and the builds need several GB); suites may fail with 'no space left on device'" >&2
  fi
done
for target in "$@"; do
  t0=$(date +%s)
  if ! ${MAKE:-make} --no-print-directory "$target"; then
    times+=("$target FAILED after $(( $(date +%s) - t0 ))s")
    echo "make test: FAILED in $target; times: $(IFS=,; echo "${times[*]}")" >&2
    echo "make test: free space (MB): $(disk_free | paste -sd, - | sed 's/,/, /g')" >&2
    exit 1
  fi
  times+=("$target $(( $(date +%s) - t0 ))s")
done
echo "make test: times: $(IFS=,; echo "${times[*]}" | sed 's/,/, /g')"
echo "make test: etcd versions tested: $versions; total $(( $(date +%s) - started ))s"
