#!/usr/bin/env bash
# Runs commands at the same time, each line of their output prefixed with
# its label, and fails if any of them failed (naming which). For suites
# that mostly wait (on leases, on etcd restarts) and start their own etcd:
# two at once take the time of the longer one.
#
#   scripts/run-together.sh LABEL 'COMMAND' [LABEL 'COMMAND' ...]
set -uo pipefail
if (( $# == 0 || $# % 2 != 0 )); then
  echo "usage: $0 LABEL 'COMMAND' [LABEL 'COMMAND' ...]" >&2
  exit 2
fi
labels=()
pids=()
# Each command in a process group of its own (job control), so a stop of
# this script reaches everything a command started, by group id: a
# Ctrl-C (the terminal signals only the foreground group) or a TERM.
set -m
stop() {
  local pid
  for pid in "${pids[@]}"; do kill "-$1" -- "-$pid" 2>/dev/null; done
  exit "$2"
}
trap 'stop INT 130' INT
trap 'stop TERM 143' TERM
while (( $# > 0 )); do
  label=$1 command=$2
  shift 2
  # pipefail: the subshell's status is the command's, not sed's.
  ( bash -c "$command" 2>&1 | sed -u "s/^/[$label] /" ) &
  labels+=("$label")
  pids+=("$!")
done
failed=()
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed+=("${labels[$i]}")
  fi
done
if (( ${#failed[@]} > 0 )); then
  echo "run-together: FAILED: ${failed[*]}" >&2
  exit 1
fi
