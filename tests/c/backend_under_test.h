/*
 * A handle on the backend the C tests run against: etcd when
 * VINESYNC_NODES is set, else memory. Shared by the test programs
 * (through harness.h) and the exit cases (C and C++).
 */
#ifndef VINESYNC_BACKEND_UNDER_TEST_H
#define VINESYNC_BACKEND_UNDER_TEST_H

#include <stdlib.h>

#include <vinesync.h>

/* A new handle under `prefix`; NULL if it cannot be made. */
static inline vs_sync *new_sync_under(const char *prefix) {
  vs_options *o = NULL;
  vs_sync *s = NULL;
  if (vs_options_new(&o, NULL) != VS_OK) return NULL;
  vs_options_set_prefix(o, prefix, NULL);
  const char *nodes = getenv("VINESYNC_NODES");
  vs_status st;
  if (nodes && *nodes) {
    vs_options_set_nodes(o, nodes, NULL);
    st = vs_sync_new_etcd(o, NULL, &s, NULL);
  } else {
    st = vs_sync_new_memory(o, &s, NULL);
  }
  vs_options_free(&o);
  return st == VS_OK ? s : NULL;
}

#endif
