/*
 * C test of lock inspection (vs_inspect_lock), against the installed header
 * and library. Memory backend by default; etcd when VINESYNC_NODES is set.
 * A holder and a waiter (another handle, in a thread) are listed in order
 * with this process's pid and their fencing tokens; a free lock has no
 * holder. Ends with "test_inspect on BACKEND: ok" or the failed checks.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vinesync.h>

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__,      \
              #cond);                                                          \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static char lock_id[64];

static void *wait_for_lock(void *arg) {
  vs_sync *waiter = arg;
  vs_guard *g = NULL;
  if (vs_lock(waiter, lock_id, 0, 0, NULL, &g, NULL) == VS_OK) {
    vs_guard_unlock(g, NULL, NULL);
    vs_guard_free(&g);
  }
  return NULL;
}

/* Polls until lock_id has `n` waiters (at most 20 s). */
static vs_lock_info *info_with_waiters(vs_sync *s, size_t n) {
  for (int i = 0; i < 2000; i++) {
    vs_lock_info *info = NULL;
    if (vs_inspect_lock(s, lock_id, NULL, &info, NULL) != VS_OK) return NULL;
    if (vs_lock_info_waiter_count(info) == n) return info;
    vs_lock_info_free(&info);
    usleep(10000);
  }
  return NULL;
}

int main(void) {
  snprintf(lock_id, sizeof lock_id, "inspect-%d", (int)getpid());
  vs_sync *holder = NULL, *waiter = NULL;
  vs_error *err = NULL;
  if (vs_sync_new_from_env(NULL, &holder, &err) != VS_OK ||
      vs_sync_new_from_env(NULL, &waiter, &err) != VS_OK) {
    fprintf(stderr, "cannot create handles: %s\n", vs_error_message(err));
    return 1;
  }

  /* A free lock: no holder, no waiter. */
  vs_lock_info *info = NULL;
  CHECK(vs_inspect_lock(holder, lock_id, NULL, &info, NULL) == VS_OK);
  CHECK(vs_lock_info_holder(info) == NULL);
  CHECK(vs_lock_info_waiter_count(info) == 0);
  vs_lock_info_free(&info);
  CHECK(info == NULL);

  /* Held here, awaited by another handle. */
  vs_guard *g = NULL;
  CHECK(vs_lock(holder, lock_id, 0, 0, NULL, &g, NULL) == VS_OK);
  pthread_t thread;
  pthread_create(&thread, NULL, wait_for_lock, waiter);
  info = info_with_waiters(holder, 1);
  CHECK(info != NULL);
  const vs_lock_entry *h = vs_lock_info_holder(info);
  const vs_lock_entry *w = vs_lock_info_waiter(info, 0);
  CHECK(h != NULL && w != NULL);
  CHECK(vs_lock_entry_fencing_token(h) == vs_guard_fencing_token(g));
  CHECK(vs_lock_entry_fencing_token(w) > vs_lock_entry_fencing_token(h));
  CHECK(vs_lock_entry_pid(h) == (uint32_t)getpid());
  CHECK(vs_lock_entry_pid(w) == (uint32_t)getpid());
  CHECK(strcmp(vs_lock_entry_handle(h), vs_lock_entry_handle(w)) != 0);
  CHECK(strstr(vs_lock_entry_key(h), lock_id) != NULL);
  CHECK(strlen(vs_lock_entry_host(h)) > 0);
  CHECK(strcmp(vs_lock_entry_value(h), "") == 0);
  CHECK(vs_lock_entry_lease(h) != 0);
  CHECK(vs_lock_info_waiter(info, 1) == NULL);
  vs_lock_info_free(&info);

  /* NULL arguments are errors or empty answers, never crashes. */
  CHECK(vs_inspect_lock(holder, NULL, NULL, &info, NULL) == VS_INVALID_ARGUMENT);
  CHECK(vs_inspect_lock(NULL, lock_id, NULL, &info, NULL) == VS_INVALID_ARGUMENT);
  CHECK(vs_inspect_lock(holder, lock_id, NULL, NULL, NULL) == VS_INVALID_ARGUMENT);
  CHECK(vs_lock_info_holder(NULL) == NULL);
  CHECK(vs_lock_entry_pid(NULL) == 0);
  CHECK(strcmp(vs_lock_entry_key(NULL), "") == 0);

  /* Released: the waiter holds it, then nobody. */
  CHECK(vs_guard_unlock(g, NULL, NULL) == VS_OK);
  vs_guard_free(&g);
  pthread_join(thread, NULL);
  CHECK(vs_inspect_lock(holder, lock_id, NULL, &info, NULL) == VS_OK);
  CHECK(vs_lock_info_holder(info) == NULL);
  vs_lock_info_free(&info);

  vs_sync_free(&holder);
  vs_sync_free(&waiter);
  const char *backend = getenv("VINESYNC_NODES") ? "etcd" : "memory";
  if (failures)
    printf("test_inspect on %s: %d checks FAILED\n", backend, failures);
  else
    printf("test_inspect on %s: ok\n", backend);
  return failures ? 1 : 0;
}
