/* The seed's lock example ("分布式锁") in C: the handle takes lock1, a second
 * thread on the same handle waits for it, vs_unlock hands it over.
 * Memory backend by default; etcd when VINESYNC_NODES is set. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <vinesync.h>

static void fatal(const char *what, vs_error *err) {
  fprintf(stderr, "%s: %s\n", what, vs_error_message(err));
  vs_error_free(&err);
  exit(1);
}

static void *second(void *arg) {
  vs_sync *s = arg;
  vs_guard *g = NULL;
  vs_error *err = NULL;
  /* take the lock (waits while the main thread holds it) */
  if (vs_lock(s, "lock1", 3000, 0, NULL, &g, &err) != VS_OK) fatal("lock", err);
  printf("Locked (fencing token %llu)\n", (unsigned long long)vs_guard_fencing_token(g));
  vs_guard_free(&g); /* releases */
  return NULL;
}

int main(void) {
  vs_sync *s = NULL;
  vs_error *err = NULL;
  if (vs_sync_new_from_env(NULL, &s, &err) != VS_OK) fatal("init", err);
  printf("backend: %s\n", vs_sync_name(s));
  /* take the lock, held by the handle (vine style: no guard) */
  if (vs_lock(s, "lock1", 3000, 0, NULL, NULL, &err) != VS_OK) fatal("lock", err);
  pthread_t t;
  pthread_create(&t, NULL, second, s);
  usleep(100 * 1000);
  /* release the lock */
  if (vs_unlock(s, "lock1", NULL, &err) != VS_OK) fatal("unlock", err);
  printf("lock1 released\n");
  pthread_join(t, NULL);
  vs_sync_free(&s);
  return 0;
}
