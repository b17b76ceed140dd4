/*
 * SPEC H4 (exit): the library at process exit. Run as
 *   exit_cases atexit PREFIX   frees a guard, a leader and a watcher from an
 *                              atexit handler, after main returned
 *   exit_cases blocked PREFIX  returns from main with live handles (never
 *                              freed) and a thread blocked in vs_lock; the
 *                              library closes the handle at exit
 *   exit_cases check PREFIX    (etcd) the lock "held" and the candidacy in
 *                              namespace "exit" that `atexit` (or
 *                              exit_global.cpp) freed at exit, or that
 *                              `blocked` left open, are free now, not
 *                              after their 60 s TTL
 * Each must exit 0 with nothing on stderr (no abort, no panic text);
 * tests/c/run_exit_cases.sh checks that.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vinesync.h>

#include "backend_under_test.h"

static vs_sync *s;
static vs_guard *g;
static vs_leader *l;
static vs_watcher *w;

static void die(const char *what) {
  fprintf(stderr, "exit_cases: %s\n", what);
  exit(2);
}

static vs_sync *connect_to(const char *prefix) {
  vs_sync *h = new_sync_under(prefix);
  if (!h) die("options or connect");
  return h;
}

/* Runs after main returned: glibc has destroyed the main thread's
 * thread-locals by now. */
static void free_at_exit(void) {
  vs_error *err = NULL;
  /* A guarded call works (or reports a status), it does not abort. */
  vs_status st = vs_try_lock(s, "other", 10000, NULL, NULL, &err);
  if (st != VS_OK) {
    fprintf(stderr, "exit_cases: try_lock at exit returned %d: %s\n", (int)st, vs_error_message(err));
    _exit(3);
  }
  vs_guard_free(&g);
  vs_leader_free(&l);
  vs_watcher_free(&w);
  /* The handle stays open (its lease alive) until the process ends, so
   * `check` sees the lock and candidacy gone only if the frees above
   * released them before returning. exit_global.cpp frees a handle at
   * exit. */
  if (g || l || w) _exit(4);
}

static void *lock_forever(void *arg) {
  (void)arg;
  /* Blocks: the lock is held by the main thread's acquisition. */
  vs_lock(s, "held", 10000, 0, NULL, NULL, NULL);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) die("usage: exit_cases atexit|blocked|check PREFIX");
  const char *mode = argv[1];
  s = connect_to(argv[2]);
  if (strcmp(mode, "atexit") == 0) {
    if (vs_lock(s, "held", 60000, 5000, NULL, &g, NULL) != VS_OK) die("lock");
    if (vs_leader_new(s, "svc", "exit", "gone", 60000, NULL, &l, NULL) != VS_OK) die("leader");
    if (vs_watch_elect(s, "exit", NULL, NULL, &w, NULL) != VS_OK) die("watch");
    atexit(free_at_exit);
    return 0;
  }
  if (strcmp(mode, "blocked") == 0) {
    if (vs_lock(s, "held", 60000, 5000, NULL, NULL, NULL) != VS_OK) die("lock");
    if (vs_leader_new(s, "svc", "exit", NULL, 60000, NULL, &l, NULL) != VS_OK) die("leader");
    /* `s` and `l` are neither freed nor resigned: the library's close at
     * exit releases them. */
    pthread_t t;
    pthread_create(&t, NULL, lock_forever, NULL);
    /* Exit only once the thread waits in the queue (its lease granted and
     * its key written), polled for at most 20 s. */
    if (!waiters_queued(s, "held", 1)) die("the second lock never queued");
    return 0; /* live handles, a thread blocked in vs_lock */
  }
  if (strcmp(mode, "check") == 0) {
    /* Far below the 60 s TTL: the atexit run released both. */
    if (vs_try_lock(s, "held", 10000, NULL, NULL, NULL) != VS_OK) die("the lock freed at exit is still held");
    vs_member_list *list = NULL;
    if (vs_list_members(s, "exit", NULL, &list, NULL) != VS_OK) die("list");
    size_t n = vs_member_list_len(list);
    vs_member_list_free(&list);
    if (n != 0) die("the candidacy freed at exit is still there");
    vs_sync_free(&s);
    return 0;
  }
  die("unknown mode");
  return 2;
}
