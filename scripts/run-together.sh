#!/usr/bin/env bash
# Runs commands at the same time, each line of their output prefixed with
# its label, and fails if any of them failed (naming which). For suites
# that mostly wait (on leases, on etcd restarts) and start their own etcd:
# two at once take the time of the longer one.
#
#   scripts/run-together.sh LABEL 'COMMAND' [LABEL 'COMMAND' ...]
#
# Each command runs in a session (and process group) of its own, so a stop
# of this script reaches everything a command started: an INT (Ctrl-C: the
# terminal signals only its foreground group), TERM or HUP is passed on to
# every group, the commands get STOP_GRACE seconds to end, then KILL, and
# the script ends by the same signal. A KILL of this script itself cannot
# be passed on. Labels are plain words.
set -uo pipefail
if (( $# == 0 || $# % 2 != 0 )); then
  echo "usage: $0 LABEL 'COMMAND' [LABEL 'COMMAND' ...]" >&2
  exit 2
fi
STOP_GRACE=10
labels=()
pids=()
any_running() {
  local pid
  for pid in "${pids[@]}"; do
    kill -0 -- "-$pid" 2>/dev/null && return 0
  done
  return 1
}
stop() {
  local signal=$1 pid waited=0
  trap '' INT TERM HUP
  for pid in "${pids[@]}"; do kill "-$signal" -- "-$pid" 2>/dev/null; done
  while any_running && (( waited < STOP_GRACE * 10 )); do
    sleep 0.1
    waited=$(( waited + 1 ))
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  wait
  trap - "$signal"
  kill "-$signal" $$
}
trap 'stop INT' INT
trap 'stop TERM' TERM
trap 'stop HUP' HUP
while (( $# > 0 )); do
  label=$1 command=$2
  shift 2
  # setsid: the command leads a new process group (its pid is the group's
  # id). Its output goes through sed, which ignores the stop signals and
  # ends with its input, so what a command prints while it stops still
  # comes through (and its writes do not fail). No terminal input; Ctrl-C
  # and Ctrl-\ back to their defaults (a shell starts a background command
  # with them ignored), so the command and its children stop on them as if
  # started directly.
  setsid env --default-signal=INT,QUIT bash -c "$command" < /dev/null > >(
    trap '' INT TERM HUP
    exec sed -u "s/^/[$label] /"
  ) 2>&1 &
  labels+=("$label")
  pids+=("$!")
done
failed=()
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed+=("${labels[$i]}")
  fi
done
# The output of every command through to the end.
wait
if (( ${#failed[@]} > 0 )); then
  echo "run-together: FAILED: ${failed[*]}" >&2
  exit 1
fi
