/*
 * A handle on the backend the C tests run against: etcd when
 * VINESYNC_NODES is set, else memory, and a poll for a lock's queue.
 * Shared by the test programs (through harness.h) and the exit cases (C
 * and C++). A C file defines _GNU_SOURCE before its first include (usleep
 * under -std=c11).
 */
#ifndef VINESYNC_BACKEND_UNDER_TEST_H
#define VINESYNC_BACKEND_UNDER_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <vinesync.h>

/* A new handle under `prefix`; NULL if it cannot be made (the error is
 * printed to stderr, so a failed test says why). */
static inline vs_sync *new_sync_under(const char *prefix) {
  vs_options *o = NULL;
  vs_sync *s = NULL;
  vs_error *err = NULL;
  if (vs_options_new(&o, NULL) != VS_OK) return NULL;
  vs_options_set_prefix(o, prefix, NULL);
  const char *nodes = getenv("VINESYNC_NODES");
  vs_status st;
  if (nodes && *nodes) {
    vs_options_set_nodes(o, nodes, NULL);
    st = vs_sync_new_etcd(o, NULL, &s, &err);
  } else {
    st = vs_sync_new_memory(o, &s, &err);
  }
  vs_options_free(&o);
  if (st != VS_OK) {
    fprintf(stderr, "  a new handle under %s: status %d: %s\n", prefix, (int)st,
            err ? vs_error_message(err) : "(no error)");
    vs_error_free(&err);
    return NULL;
  }
  return s;
}

/* Waits (at most 20 s) until lock `id` has `n` waiters; false if not. A
 * test polls this instead of sleeping a fixed time: on a loaded machine a
 * new handle's first lock (which also grants a lease) can take longer. */
static inline bool waiters_queued(vs_sync *s, const char *id, size_t n) {
  for (int i = 0; i < 2000; i++) {
    vs_lock_info *info = NULL;
    if (vs_inspect_lock(s, id, NULL, &info, NULL) != VS_OK) return false;
    size_t queued = vs_lock_info_waiter_count(info);
    vs_lock_info_free(&info);
    if (queued == n) return true;
    usleep(10 * 1000);
  }
  return false;
}

#endif
