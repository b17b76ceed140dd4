#!/usr/bin/env bash
# SPEC H4: runs the exit cases (tests/c/exit_cases.c, exit_global.cpp) and
# fails unless each exits 0 with an empty stderr. On etcd (VINESYNC_NODES
# set) it also checks that what the atexit handler freed is free at once.
# Usage: run_exit_cases.sh EXIT_CASES EXIT_GLOBAL [WRAPPER...]
set -euo pipefail
cases=$1 global=$2
shift 2
wrapper=("$@")
prefix="/ctest-exit/$$"
failed=0
run() {
  local name=$1
  shift
  local err rc=0
  err=$(mktemp)
  timeout 60 "${wrapper[@]}" "$@" 2>"$err" || rc=$?
  if [[ $rc -ne 0 || -s $err ]]; then
    echo "test h4_exit_$name ... FAILED (exit $rc)"
    sed 's/^/  stderr: /' "$err" | head -20
    failed=$((failed + 1))
  else
    echo "test h4_exit_$name ... ok"
  fi
  rm -f "$err"
}
run atexit_frees "$cases" atexit "$prefix/a"
[[ -n ${VINESYNC_NODES:-} ]] && run atexit_released_at_once "$cases" check "$prefix/a"
run return_with_thread_blocked_in_lock "$cases" blocked "$prefix/b"
[[ -n ${VINESYNC_NODES:-} ]] && run unfreed_handle_released_at_exit "$cases" check "$prefix/b"
run cxx_global_destructors "$global" "$prefix/c"
[[ -n ${VINESYNC_NODES:-} ]] && run cxx_global_released_at_once "$cases" check "$prefix/c"
echo "exit cases: $failed failed"
[[ $failed -eq 0 ]]
