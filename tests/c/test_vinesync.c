/*
 * C tests of libvinesync, compiled with the system cc against the installed
 * header and library. Memory backend by default; etcd when VINESYNC_NODES
 * is set (run under `vinesync-etcd run`). Each test names the SPEC rule it
 * checks. Ends with the line "N passed, M failed".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vinesync.h>
#include <vinesync_test.h>

#include "harness.h"

static int on_etcd;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A new handle on the backend under test, under a prefix of its own. */
static vs_sync *new_sync(const char *test) {
  char prefix[256];
  snprintf(prefix, sizeof prefix, "/ctest/%s/%d", test, (int)getpid());
  return new_sync_under(prefix);
}

/* ---- L1: exclusion, 16 threads x N lock/unlock ---------------------- */

struct counter_ctx {
  vs_sync **handles;
  int n_handles;
  int iterations;
  long counter; /* plain, guarded only by the lock */
  atomic_int inside;
  atomic_int overlaps;
  atomic_int errors;
  atomic_int next_thread;
};

static void *counter_thread(void *arg) {
  struct counter_ctx *c = arg;
  int me = atomic_fetch_add(&c->next_thread, 1);
  vs_sync *s = c->handles[me % c->n_handles];
  for (int i = 0; i < c->iterations; i++) {
    vs_guard *g = NULL;
    if (vs_lock(s, "counter", 30000, 0, NULL, &g, NULL) != VS_OK) {
      atomic_fetch_add(&c->errors, 1);
      continue;
    }
    if (atomic_fetch_add(&c->inside, 1) != 0) atomic_fetch_add(&c->overlaps, 1);
    c->counter++;
    atomic_fetch_sub(&c->inside, 1);
    if (vs_guard_unlock(g, NULL, NULL) != VS_OK) atomic_fetch_add(&c->errors, 1);
    vs_guard_free(&g);
  }
  return NULL;
}

static void run_counter(int n_handles, int threads, int iterations) {
  vs_sync *handles[4] = {0};
  for (int i = 0; i < n_handles; i++) {
    handles[i] = new_sync(n_handles == 1 ? "l1_one" : "l1_four");
    CHECK(handles[i] != NULL);
    if (!handles[i]) return;
  }
  struct counter_ctx c = {.handles = handles, .n_handles = n_handles, .iterations = iterations};
  pthread_t t[16];
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, counter_thread, &c);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  CHECK(atomic_load(&c.errors) == 0);
  CHECK(atomic_load(&c.overlaps) == 0);
  CHECK(c.counter == (long)threads * iterations);
  for (int i = 0; i < n_handles; i++) vs_sync_free(&handles[i]);
}

static void test_l1_exclusion_16_threads_one_handle(void) {
  run_counter(1, 16, on_etcd ? 10 : 1000);
}

static void test_l1_exclusion_16_threads_four_handles(void) {
  run_counter(4, 16, on_etcd ? 10 : 1000);
}

/* ---- L2, L3, L5, L7, L8, L10 --------------------------------------- */

static void test_l2_lock_wait_gives_lock_timeout(void) {
  vs_sync *a = new_sync("l2a"), *b = NULL;
  CHECK(a != NULL);
  if (!a) return;
  b = new_sync("l2a");
  vs_guard *g = NULL;
  CHECK_STATUS(vs_lock(a, "x", 10000, 0, NULL, &g, NULL), VS_OK);
  vs_error *err = NULL;
  double t0 = now_s();
  CHECK_STATUS(vs_lock(b, "x", 10000, 300, NULL, NULL, &err), VS_LOCK_TIMEOUT);
  CHECK(now_s() - t0 >= 0.29);
  CHECK(err != NULL && strstr(vs_error_message(err), "lock timeout") != NULL);
  CHECK(vs_error_status(err) == VS_LOCK_TIMEOUT);
  vs_error_free(&err);
  vs_guard_free(&g);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

struct seed_ctx {
  vs_sync *s;
  atomic_int locked;
  vs_status status;
};

static void *second_lock(void *arg) {
  struct seed_ctx *c = arg;
  c->status = vs_lock(c->s, "lock1", 3000, 0, NULL, NULL, NULL);
  atomic_store(&c->locked, 1);
  return NULL;
}

/* L3: the seed's example: the same handle locks twice; unlock hands over. */
static void test_l3_seed_example_held_by_the_handle(void) {
  vs_sync *s = new_sync("l3");
  CHECK(s != NULL);
  if (!s) return;
  CHECK_STATUS(vs_lock(s, "lock1", 3000, 0, NULL, NULL, NULL), VS_OK);
  struct seed_ctx c = {.s = s};
  pthread_t t;
  pthread_create(&t, NULL, second_lock, &c);
  CHECK(waiters_queued(s, "lock1", 1)); /* the second lock waits in the queue */
  sleep_ms(100);
  CHECK(atomic_load(&c.locked) == 0);
  CHECK_STATUS(vs_unlock(s, "lock1", NULL, NULL), VS_OK);
  pthread_join(t, NULL);
  CHECK(c.status == VS_OK);
  CHECK_STATUS(vs_unlock(s, "lock1", NULL, NULL), VS_OK);
  vs_sync_free(&s);
}

static void test_l5_fencing_tokens_increase(void) {
  vs_sync *s = new_sync("l5");
  CHECK(s != NULL);
  if (!s) return;
  uint64_t last = 0;
  for (int i = 0; i < 5; i++) {
    vs_guard *g = NULL;
    CHECK_STATUS(vs_lock(s, "fence", 10000, 0, NULL, &g, NULL), VS_OK);
    CHECK(vs_guard_fencing_token(g) > last);
    last = vs_guard_fencing_token(g);
    vs_guard_free(&g); /* releases */
  }
  vs_sync_free(&s);
}

static void test_l7_unlock_not_held(void) {
  vs_sync *s = new_sync("l7");
  CHECK(s != NULL);
  if (!s) return;
  vs_error *err = NULL;
  CHECK_STATUS(vs_unlock(s, "never", NULL, &err), VS_NOT_LOCKED);
  CHECK(err && strstr(vs_error_message(err), "never"));
  vs_error_free(&err);
  CHECK_STATUS(vs_lock(s, "x", 10000, 0, NULL, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_unlock(s, "x", NULL, NULL), VS_OK);
  CHECK_STATUS(vs_unlock(s, "x", NULL, NULL), VS_NOT_LOCKED);
  vs_guard *g = NULL;
  CHECK_STATUS(vs_lock(s, "y", 10000, 0, NULL, &g, NULL), VS_OK);
  CHECK_STATUS(vs_guard_unlock(g, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_guard_unlock(g, NULL, NULL), VS_NOT_LOCKED);
  vs_guard_free(&g);
  vs_sync_free(&s);
}

struct cancel_ctx {
  vs_sync *s;
  vs_cancel *cancel;
  vs_status status;
};

static void *cancellable_lock(void *arg) {
  struct cancel_ctx *c = arg;
  c->status = vs_lock(c->s, "x", 60000, 0, c->cancel, NULL, NULL);
  return NULL;
}

/* L8: a cancelled waiter returns promptly and leaves no key: the next
 * waiter gets the lock as soon as the holder releases. */
static void test_l8_cancel_token_leaves_no_waiter(void) {
  vs_sync *a = new_sync("l8"), *b = new_sync("l8"), *c = new_sync("l8");
  CHECK(a && b && c);
  if (!(a && b && c)) return;
  vs_guard *g = NULL;
  CHECK_STATUS(vs_lock(a, "x", 10000, 0, NULL, &g, NULL), VS_OK);
  struct cancel_ctx ctx = {.s = b, .cancel = vs_cancel_new()};
  pthread_t t;
  pthread_create(&t, NULL, cancellable_lock, &ctx);
  /* Cancel a waiter that is in the queue (its key written), not one still
   * granting its lease. */
  CHECK(waiters_queued(a, "x", 1));
  double t0 = now_s();
  vs_cancel_fire(ctx.cancel);
  pthread_join(t, NULL);
  CHECK(ctx.status == VS_CANCELLED);
  CHECK(now_s() - t0 < 5.0); /* promptly: not after the 60 s TTL */
  vs_cancel_free(&ctx.cancel);
  CHECK(ctx.cancel == NULL);
  vs_guard_free(&g);
  /* With the cancelled waiter's key left behind, this would wait 60 s. */
  CHECK_STATUS(vs_lock(c, "x", 10000, 5000, NULL, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_unlock(c, "x", NULL, NULL), VS_OK);
  vs_sync_free(&a);
  vs_sync_free(&b);
  vs_sync_free(&c);
}

static void test_l10_try_lock_would_block(void) {
  vs_sync *a = new_sync("l10"), *b = new_sync("l10");
  CHECK(a && b);
  if (!(a && b)) return;
  vs_guard *g = NULL;
  CHECK_STATUS(vs_try_lock(a, "x", 10000, NULL, &g, NULL), VS_OK);
  vs_guard *g2 = (vs_guard *)0x1; /* must stay untouched on failure */
  CHECK_STATUS(vs_try_lock(b, "x", 10000, NULL, &g2, NULL), VS_WOULD_BLOCK);
  CHECK(g2 == (vs_guard *)0x1);
  CHECK(!vs_guard_is_lost(g));
  CHECK_STATUS(vs_guard_wait_lost(g, 100, NULL, NULL), VS_TIMED_OUT);
  vs_guard_free(&g);
  g2 = NULL;
  CHECK_STATUS(vs_lock(b, "x", 10000, 5000, NULL, &g2, NULL), VS_OK);
  vs_guard_free(&g2);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* L4: keepalives hold a 2 s lock for 4.5 s; a crashed holder's lock frees
 * itself after its TTL. (2 s, not the 1 s minimum: under valgrind on a
 * loaded machine a keepalive round trip can outlast a 1 s lease's margin.) */
static void test_l4_ttl_keepalive_and_crash(void) {
  vs_sync *a = new_sync("l4"), *b = new_sync("l4");
  CHECK(a && b);
  if (!(a && b)) return;
  CHECK_STATUS(vs_lock(a, "x", 2000, 0, NULL, NULL, NULL), VS_OK);
  sleep_ms(4500);
  CHECK_STATUS(vs_try_lock(b, "x", 1000, NULL, NULL, NULL), VS_WOULD_BLOCK);
  CHECK_STATUS(vs_sync_fault_crash(a, NULL), VS_OK);
  CHECK_STATUS(vs_lock(b, "x", 10000, 10000, NULL, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_unlock(b, "x", NULL, NULL), VS_OK);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* L6: a holder whose keepalives stop is told it lost the lock. */
static void test_l6_lost_when_keepalive_stops(void) {
  vs_sync *a = new_sync("l6");
  CHECK(a != NULL);
  if (!a) return;
  vs_guard *g = NULL;
  CHECK_STATUS(vs_lock(a, "x", 1000, 0, NULL, &g, NULL), VS_OK);
  CHECK(!vs_guard_is_lost(g));
  CHECK_STATUS(vs_sync_fault_suspend_keepalive(a, true, NULL), VS_OK);
  CHECK_STATUS(vs_guard_wait_lost(g, 5000, NULL, NULL), VS_OK);
  CHECK(vs_guard_is_lost(g));
  vs_guard_free(&g);
  vs_sync_free(&a);
}

struct wait_ctx {
  vs_sync *s;
  vs_guard *g;
  vs_status status;
};

static void *waiting_lock(void *arg) {
  struct wait_ctx *c = arg;
  c->status = vs_lock(c->s, "x", 10000, 10000, NULL, &c->g, NULL);
  return NULL;
}

/* L9: a waiter whose lease vanished while it waited is not told it holds
 * the lock with its dead key: it starts over and its token is newer. */
static void test_l9_waiter_with_expired_lease(void) {
  vs_sync *a = new_sync("l9"), *b = new_sync("l9");
  CHECK(a && b);
  if (!(a && b)) return;
  vs_guard *held = NULL;
  CHECK_STATUS(vs_lock(a, "x", 10000, 0, NULL, &held, NULL), VS_OK);
  struct wait_ctx c = {.s = b};
  pthread_t t;
  pthread_create(&t, NULL, waiting_lock, &c);
  CHECK(waiters_queued(a, "x", 1)); /* B's first key is written */
  CHECK_STATUS(vs_sync_fault_expire_leases(b, NULL), VS_OK);
  sleep_ms(100);
  /* a new lock by a third party takes the next revision: B's retry must be newer */
  uint64_t held_token = vs_guard_fencing_token(held);
  vs_guard_free(&held);
  pthread_join(t, NULL);
  CHECK(c.status == VS_OK);
  /* tokens: held < B's dead key < B's fresh key; B must hold the fresh one */
  CHECK(vs_guard_fencing_token(c.g) > held_token + 1);
  vs_guard_free(&c.g);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* ---- Elections ------------------------------------------------------ */

/* E5: the primary's process dies; the next candidate is primary within
 * TTL + 1 s (2 s of slack here for a loaded machine). */
static void test_e5_failover_after_crash(void) {
  vs_sync *a = new_sync("e5"), *b = new_sync("e5");
  CHECK(a && b);
  if (!(a && b)) return;
  vs_leader *la = NULL, *lb = NULL;
  CHECK_STATUS(vs_leader_new(a, "svc", NULL, "a", 1000, NULL, &la, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(b, "svc", NULL, "b", 10000, NULL, &lb, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(la, 5000, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_sync_fault_crash(a, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(lb, 4000, NULL, NULL), VS_OK);
  vs_leader_free(&lb);
  vs_leader_free(&la);
  vs_sync_free(&a);
  vs_sync_free(&b);
}


static void test_e1_e2_e7_leader_members(void) {
  vs_sync *a = new_sync("e1"), *b = new_sync("e1");
  CHECK(a && b);
  if (!(a && b)) return;
  vs_leader *la = NULL, *lb = NULL;
  CHECK_STATUS(vs_leader_new(a, "svc", "ns", "first", 10000, NULL, &la, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(b, "svc", "ns", "second", 10000, NULL, &lb, NULL), VS_OK);
  CHECK(strcmp(vs_leader_id(la), "first") == 0);
  vs_member_list *list = NULL;
  CHECK_STATUS(vs_list_members(a, "ns", NULL, &list, NULL), VS_OK);
  CHECK(vs_member_list_len(list) == 2);
  const vs_member *m0 = vs_member_list_get(list, 0), *m1 = vs_member_list_get(list, 1);
  CHECK(m0 && strcmp(vs_member_id(m0), "first") == 0 && vs_member_is_primary(m0));
  CHECK(m1 && strcmp(vs_member_id(m1), "second") == 0 && !vs_member_is_primary(m1));
  CHECK(m0 && strcmp(vs_member_leader(m0), "svc") == 0 && strcmp(vs_member_namespace(m0), "ns") == 0);
  CHECK(vs_member_list_get(list, 2) == NULL);
  vs_member_list_free(&list);
  CHECK_STATUS(vs_leader_wait_elected(la, 5000, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(lb, 200, NULL, NULL), VS_TIMED_OUT);
  vs_leader_free(&la); /* resigns */
  vs_leader_free(&lb);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

static void test_e3_e4_e6_status_resign_observe(void) {
  vs_sync *a = new_sync("e3"), *b = new_sync("e3");
  CHECK(a && b);
  if (!(a && b)) return;
  vs_leader *la = NULL, *lb = NULL;
  CHECK_STATUS(vs_leader_new(a, "svc", NULL, "a", 60000, NULL, &la, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(b, "svc", NULL, "b", 60000, NULL, &lb, NULL), VS_OK);
  bool primary = false;
  CHECK_STATUS(vs_leader_status_next(la, 5000, NULL, &primary, NULL), VS_OK);
  CHECK(primary);
  vs_watcher *obs = NULL;
  CHECK_STATUS(vs_leader_observe(lb, NULL, &obs, NULL), VS_OK);
  vs_event *e = NULL;
  CHECK_STATUS(vs_watcher_next(obs, 5000, NULL, &e, NULL), VS_OK);
  CHECK(e && strcmp(vs_member_id(vs_event_member(e)), "a") == 0);
  vs_event_free(&e);
  vs_owned_member *p = NULL;
  CHECK_STATUS(vs_leader_primary(lb, NULL, &p, NULL), VS_OK);
  CHECK(p && strcmp(vs_member_id(vs_owned_member_get(p)), "a") == 0);
  vs_owned_member_free(&p);
  double t0 = now_s();
  CHECK_STATUS(vs_leader_resign(la, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_leader_resign(la, NULL, NULL), VS_OK); /* idempotent */
  CHECK_STATUS(vs_leader_wait_elected(lb, 5000, NULL, NULL), VS_OK);
  CHECK(now_s() - t0 < 5.0); /* not the 60 s TTL */
  CHECK_STATUS(vs_leader_status_next(la, 5000, NULL, &primary, NULL), VS_OK);
  CHECK(!primary);
  CHECK_STATUS(vs_watcher_next(obs, 5000, NULL, &e, NULL), VS_OK);
  CHECK(e && vs_event_get_kind(e) == VS_EVENT_ELECTED && strcmp(vs_member_id(vs_event_member(e)), "b") == 0);
  vs_event_free(&e);
  CHECK_STATUS(vs_watcher_close(obs, NULL), VS_OK);
  CHECK_STATUS(vs_watcher_next(obs, 100, NULL, &e, NULL), VS_CLOSED);
  vs_watcher_free(&obs);
  CHECK_STATUS(vs_leader_resign(lb, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_leader_primary(lb, NULL, &p, NULL), VS_NO_LEADER);
  vs_leader_free(&la);
  vs_leader_free(&lb);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

static void test_e8_watch_elect_events(void) {
  vs_sync *s = new_sync("e8");
  CHECK(s != NULL);
  if (!s) return;
  vs_watcher *w = NULL;
  CHECK_STATUS(vs_watch_elect(s, "ns", NULL, NULL, &w, NULL), VS_OK);
  vs_leader *l = NULL;
  CHECK_STATUS(vs_leader_new(s, "svc", "ns", "m", 10000, NULL, &l, NULL), VS_OK);
  CHECK_STATUS(vs_leader_resign(l, NULL, NULL), VS_OK);
  vs_event_kind expected[] = {VS_EVENT_JOINED, VS_EVENT_ELECTED, VS_EVENT_LEFT};
  for (int i = 0; i < 3; i++) {
    vs_event *e = NULL;
    CHECK_STATUS(vs_watcher_next(w, 5000, NULL, &e, NULL), VS_OK);
    CHECK(e && vs_event_get_kind(e) == expected[i]);
    CHECK(e && strcmp(vs_member_id(vs_event_member(e)), "m") == 0);
    vs_event_free(&e);
  }
  vs_event *none = NULL;
  CHECK_STATUS(vs_watcher_next(w, 200, NULL, &none, NULL), VS_TIMED_OUT);
  CHECK(none == NULL);
  vs_watcher_free(&w);
  vs_leader_free(&l);
  vs_sync_free(&s);
}


/* ---- L2: waiters are served in arrival order ------------------------ */

struct queue_ctx {
  vs_sync *s;
  int index;
  atomic_int *served; /* next position in `order` */
  int *order;
  vs_status status;
};

static void *queued_lock(void *arg) {
  struct queue_ctx *c = arg;
  vs_guard *g = NULL;
  /* Waits longer than the test's polls for the queue (4 x 20 s), so a slow
   * set-up fails in the poll that names it, not here. */
  c->status = vs_lock(c->s, "q", 10000, 90000, NULL, &g, NULL);
  if (c->status == VS_OK) {
    c->order[atomic_fetch_add(c->served, 1)] = c->index;
    sleep_ms(50);
    vs_guard_free(&g);
  }
  return NULL;
}

static void test_l2_waiters_served_in_arrival_order(void) {
  enum { N = 4 };
  vs_sync *holder = new_sync("l2-order");
  vs_sync *handles[N];
  for (int i = 0; i < N; i++) handles[i] = new_sync("l2-order");
  CHECK(holder != NULL);
  if (!holder) return;
  vs_guard *g = NULL;
  CHECK_STATUS(vs_lock(holder, "q", 10000, 0, NULL, &g, NULL), VS_OK);
  atomic_int served = 0;
  int order[N] = {-1, -1, -1, -1};
  struct queue_ctx ctx[N];
  pthread_t t[N];
  /* Arrival order: waiter i starts once waiter i-1 is in the queue (a
   * fixed pause was not enough on a loaded machine: a new handle's first
   * lock also grants its lease), handles in reverse creation order so that
   * no other order can explain the result. */
  for (int i = 0; i < N; i++) {
    ctx[i] = (struct queue_ctx){handles[N - 1 - i], i, &served, order, VS_INTERNAL};
    pthread_create(&t[i], NULL, queued_lock, &ctx[i]);
    CHECK(waiters_queued(holder, "q", (size_t)i + 1));
  }
  vs_guard_free(&g);
  for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < N; i++) {
    CHECK_STATUS(ctx[i].status, VS_OK);
    CHECK(order[i] == i);
  }
  for (int i = 0; i < N; i++) vs_sync_free(&handles[i]);
  vs_sync_free(&holder);
}

/* ---- L6: the key deleted by someone else; VS_LOST from unlock -------- */

static void test_l6_key_deleted_by_someone_else_unlock_gives_lost(void) {
  vs_sync *a = new_sync("l6-deleted"), *b = new_sync("l6-deleted");
  CHECK(a && b);
  if (!(a && b)) return;
  vs_guard *g = NULL;
  CHECK_STATUS(vs_lock(a, "x", 60000, 0, NULL, &g, NULL), VS_OK);
  CHECK(strcmp(vs_guard_id(g), "x") == 0);
  CHECK(strstr(vs_guard_key(g), "/locks/x/") != NULL);
  CHECK(vs_guard_lease(g) != 0);
  CHECK(!vs_guard_is_lost(g));
  /* b, another client, deletes a's key (as an operator or a bug might). */
  CHECK_STATUS(vs_sync_fault_delete_key(b, vs_guard_key(g), (int64_t)vs_guard_fencing_token(g), NULL),
               VS_OK);
  CHECK_STATUS(vs_guard_wait_lost(g, 5000, NULL, NULL), VS_OK);
  CHECK(vs_guard_is_lost(g));
  CHECK(!vs_guard_is_released(g)); /* lost, not yet released */
  /* vine's Unlock of a lost lock: VS_LOST (SPEC §6), not VS_OK */
  vs_error *err = NULL;
  CHECK_STATUS(vs_unlock(a, "x", NULL, &err), VS_LOST);
  CHECK(vs_guard_is_released(g)); /* by its id */
  CHECK(err != NULL);
  vs_error_free(&err);
  CHECK_STATUS(vs_guard_unlock(g, NULL, NULL), VS_NOT_LOCKED); /* already released by id */
  vs_guard_free(&g);
  CHECK_STATUS(vs_try_lock(b, "x", 10000, NULL, NULL, NULL), VS_OK);
  /* A guard's id and key stay readable once it is released, first asked
     for after the release as well as before. */
  vs_guard *released = NULL;
  CHECK_STATUS(vs_lock(a, "y", 60000, 0, NULL, &released, NULL), VS_OK);
  const char *key_before = vs_guard_key(released);
  CHECK(!vs_guard_is_released(released));
  CHECK_STATUS(vs_guard_unlock(released, NULL, NULL), VS_OK);
  CHECK(vs_guard_is_released(released));
  CHECK(strcmp(vs_guard_id(released), "y") == 0);
  CHECK(strstr(vs_guard_key(released), "/locks/y/") != NULL);
  CHECK(vs_guard_key(released) == key_before);
  vs_guard_free(&released);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* ---- H1: a lock lost before its Sync is closed stays lost ------------ */

static void test_h1_a_lock_lost_before_the_close_stays_lost(void) {
  vs_sync *a = new_sync("h1-lost"), *b = new_sync("h1-lost");
  CHECK(a && b);
  if (!(a && b)) return;
  /* Lost by its lease (keepalives stopped), then closed; nobody watched
     the guard before (its loss is known from the lease alone). b takes the
     lock once the lease has expired in the store, after a's own deadline. */
  vs_guard *expired = NULL;
  CHECK_STATUS(vs_lock(a, "x", 1000, 0, NULL, &expired, NULL), VS_OK);
  CHECK_STATUS(vs_sync_fault_suspend_keepalive(a, true, NULL), VS_OK);
  vs_guard *taken = NULL;
  for (int i = 0; i < 100 && !taken; i++) {
    if (vs_try_lock(b, "x", 10000, NULL, &taken, NULL) != VS_OK) sleep_ms(100);
  }
  CHECK(taken != NULL);
  vs_guard_free(&taken);
  CHECK_STATUS(vs_sync_close(a, NULL, NULL), VS_OK);
  CHECK(vs_guard_is_lost(expired));
  CHECK_STATUS(vs_guard_wait_lost(expired, 100, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_guard_unlock(expired, NULL, NULL), VS_CLOSED);
  CHECK(vs_guard_is_lost(expired)); /* the guard's answers stay what they were */
  CHECK_STATUS(vs_guard_wait_lost(expired, 100, NULL, NULL), VS_OK);
  vs_guard_free(&expired);
  /* Lost by its key (deleted by another client), then closed. */
  vs_sync *c = new_sync("h1-lost");
  CHECK(c != NULL);
  if (c) {
    vs_guard *deleted = NULL;
    CHECK_STATUS(vs_lock(c, "y", 60000, 0, NULL, &deleted, NULL), VS_OK);
    CHECK(!vs_guard_is_lost(deleted)); /* watched from here on */
    CHECK_STATUS(vs_sync_fault_delete_key(b, vs_guard_key(deleted),
                                          (int64_t)vs_guard_fencing_token(deleted), NULL),
                 VS_OK);
    CHECK_STATUS(vs_guard_wait_lost(deleted, 5000, NULL, NULL), VS_OK);
    CHECK_STATUS(vs_sync_close(c, NULL, NULL), VS_OK);
    CHECK(vs_guard_is_lost(deleted));
    CHECK_STATUS(vs_guard_wait_lost(deleted, 100, NULL, NULL), VS_OK);
    CHECK_STATUS(vs_guard_unlock(deleted, NULL, NULL), VS_CLOSED);
    CHECK(vs_guard_is_lost(deleted));
    CHECK_STATUS(vs_guard_wait_lost(deleted, 100, NULL, NULL), VS_OK);
    vs_guard_free(&deleted);
    vs_sync_free(&c);
  }
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* ---- E7: ListMembers(ns) is not ListMembers(ns2) --------------------- */

static void test_e7_prefix_isolation_ns_vs_ns2(void) {
  vs_sync *s = new_sync("e7-ns2");
  CHECK(s != NULL);
  if (!s) return;
  vs_leader *in_ns = NULL, *in_ns2 = NULL;
  CHECK_STATUS(vs_leader_new(s, "svc", "ns", "one", 10000, NULL, &in_ns, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(s, "svc", "ns2", "two", 10000, NULL, &in_ns2, NULL), VS_OK);
  CHECK(strcmp(vs_leader_namespace(in_ns2), "ns2") == 0 && strcmp(vs_leader_name(in_ns2), "svc") == 0);
  const char *nss[2] = {"ns", "ns2"}, *ids[2] = {"one", "two"};
  for (int i = 0; i < 2; i++) {
    vs_member_list *list = NULL;
    CHECK_STATUS(vs_list_members(s, nss[i], NULL, &list, NULL), VS_OK);
    CHECK(vs_member_list_len(list) == 1);
    const vs_member *m = vs_member_list_get(list, 0);
    CHECK(m && strcmp(vs_member_id(m), ids[i]) == 0 && vs_member_is_primary(m));
    vs_member_list_free(&list);
  }
  /* both primary: separate elections */
  CHECK_STATUS(vs_leader_wait_elected(in_ns, 5000, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(in_ns2, 5000, NULL, NULL), VS_OK);
  vs_leader_free(&in_ns);
  vs_leader_free(&in_ns2);
  vs_sync_free(&s);
}

/* ---- E8: WatchElect(ns, id) only reports member id -------------------- */

static void test_e8_watch_elect_id_filter(void) {
  vs_sync *s = new_sync("e8-id");
  CHECK(s != NULL);
  if (!s) return;
  vs_watcher *w = NULL;
  CHECK_STATUS(vs_watch_elect(s, "ns", "wanted", NULL, &w, NULL), VS_OK);
  vs_leader *other = NULL, *wanted = NULL;
  CHECK_STATUS(vs_leader_new(s, "svc", "ns", "other", 10000, NULL, &other, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(s, "svc", "ns", "wanted", 10000, NULL, &wanted, NULL), VS_OK);
  CHECK_STATUS(vs_leader_resign(other, NULL, NULL), VS_OK); /* wanted becomes primary */
  vs_event_kind expected[] = {VS_EVENT_JOINED, VS_EVENT_ELECTED};
  int64_t last_revision = 0;
  for (int i = 0; i < 2; i++) {
    vs_event *e = NULL;
    CHECK_STATUS(vs_watcher_next(w, 5000, NULL, &e, NULL), VS_OK);
    CHECK(e && vs_event_get_kind(e) == expected[i]);
    CHECK(e && strcmp(vs_member_id(vs_event_member(e)), "wanted") == 0);
    CHECK(e && vs_event_revision(e) > last_revision);
    if (e) last_revision = vs_event_revision(e);
    vs_event_free(&e);
  }
  vs_event *none = NULL;
  CHECK_STATUS(vs_watcher_next(w, 300, NULL, &none, NULL), VS_TIMED_OUT); /* nothing about "other" */
  vs_watcher_free(&w);
  vs_leader_free(&other);
  vs_leader_free(&wanted);
  vs_sync_free(&s);
}

/* ---- vine's Init and Options ------------------------------------------ */

static void test_init_and_options(void) {
  vs_sync *s = new_sync("init");
  CHECK(s != NULL);
  if (!s) return;
  vs_options *o = NULL;
  CHECK_STATUS(vs_sync_options(s, &o, NULL), VS_OK);
  char prefix[128];
  size_t n = vs_options_get_prefix(o, prefix, sizeof prefix);
  CHECK(n == strlen(prefix) && strstr(prefix, "/ctest/init/") == prefix);
  char small[4];
  CHECK(vs_options_get_prefix(o, small, sizeof small) == n && strlen(small) == 3); /* truncated */
  CHECK(vs_options_get_nodes(o, NULL, 0) > 0);
  uint64_t dial = 0, request = 0;
  CHECK_STATUS(vs_options_get_timeouts(o, &dial, &request, NULL), VS_OK);
  CHECK(dial > 0 && request > 0);
  /* Init: a new prefix; new locks go under it (a lock elsewhere is free). */
  CHECK_STATUS(vs_lock(s, "x", 10000, 0, NULL, NULL, NULL), VS_OK);
  char moved[160];
  snprintf(moved, sizeof moved, "%s/moved", prefix);
  CHECK_STATUS(vs_options_set_prefix(o, moved, NULL), VS_OK);
  CHECK_STATUS(vs_sync_init(s, o, NULL, NULL), VS_OK);
  vs_options_free(&o);
  CHECK_STATUS(vs_sync_options(s, &o, NULL), VS_OK);
  vs_options_get_prefix(o, prefix, sizeof prefix);
  CHECK(strcmp(prefix, moved) == 0);
  vs_options_free(&o);
  CHECK_STATUS(vs_try_lock(s, "x", 10000, NULL, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_sync_init(s, NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  vs_sync_free(&s);
}

/* ---- Outputs untouched on failure, for every function with outputs ---- */

static void test_outputs_untouched_on_failure(void) {
  vs_sync *s = new_sync("untouched");
  CHECK(s != NULL);
  if (!s) return;
  void *const marker = (void *)0x1; /* never a valid handle: must survive */
  vs_sync *sync_out = marker;
  CHECK_STATUS(vs_sync_new_memory(NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  vs_options *bad = NULL;
  vs_options_new(&bad, NULL);
  vs_options_set_prefix(bad, "", NULL);
  CHECK(vs_sync_new_memory(bad, &sync_out, NULL) != VS_OK && sync_out == marker);
  vs_options_set_nodes(bad, "127.0.0.1:1", NULL); /* nothing listens there */
  vs_options_set_prefix(bad, "/p", NULL);
  vs_options_set_timeouts(bad, 200, 200, NULL);
  CHECK(vs_sync_new_etcd(bad, NULL, &sync_out, NULL) != VS_OK && sync_out == marker);
  vs_options_free(&bad);
  vs_options *options_out = marker;
  CHECK(vs_sync_options(NULL, &options_out, NULL) != VS_OK && options_out == marker);
  CHECK_STATUS(vs_lock(s, "held", 10000, 0, NULL, NULL, NULL), VS_OK);
  vs_sync *other = new_sync("untouched");
  vs_guard *guard_out = marker;
  CHECK(vs_try_lock(other, "held", 10000, NULL, &guard_out, NULL) == VS_WOULD_BLOCK && guard_out == marker);
  CHECK(vs_lock(other, "held", 10000, 100, NULL, &guard_out, NULL) == VS_LOCK_TIMEOUT && guard_out == marker);
  vs_leader *leader_out = marker;
  CHECK(vs_leader_new(s, "svc", "ns", NULL, 1500, NULL, &leader_out, NULL) == VS_INVALID_ARGUMENT &&
        leader_out == marker); /* not whole seconds */
  vs_leader *l = NULL;
  CHECK_STATUS(vs_leader_new(s, "svc", "untouched", "me", 10000, NULL, &l, NULL), VS_OK);
  CHECK_STATUS(vs_leader_resign(l, NULL, NULL), VS_OK);
  vs_owned_member *member_out = marker;
  CHECK(vs_leader_primary(l, NULL, &member_out, NULL) == VS_NO_LEADER && member_out == marker);
  bool primary = true;
  while (vs_leader_status_next(l, 100, NULL, &primary, NULL) == VS_OK) {
  }
  primary = true;
  CHECK(vs_leader_status_next(l, 100, NULL, &primary, NULL) != VS_OK && primary == true);
  vs_watcher *watcher_out = marker;
  CHECK(vs_leader_observe(NULL, NULL, &watcher_out, NULL) != VS_OK && watcher_out == marker);
  CHECK(vs_watch_elect(s, "", NULL, NULL, &watcher_out, NULL) != VS_OK && watcher_out == marker);
  vs_member_list *list_out = marker;
  CHECK(vs_list_members(s, "", NULL, &list_out, NULL) != VS_OK && list_out == marker);
  vs_watcher *w = NULL;
  CHECK_STATUS(vs_watch_elect(s, "quiet", NULL, NULL, &w, NULL), VS_OK);
  vs_event *event_out = marker;
  CHECK(vs_watcher_next(w, 100, NULL, &event_out, NULL) == VS_TIMED_OUT && event_out == marker);
  uint64_t dial = 7, request = 7;
  CHECK(vs_options_get_timeouts(NULL, &dial, &request, NULL) != VS_OK && dial == 7 && request == 7);
  vs_options *options = NULL;
  vs_options_new(&options, NULL);
  CHECK(vs_options_get_timeouts(options, &dial, NULL, NULL) != VS_OK && dial == 7);
  vs_options_free(&options);
  vs_watcher_free(&w);
  vs_leader_free(&l);
  vs_sync_free(&other);
  vs_sync_free(&s);
}

/* ---- Misuse: every call refuses bad input without crashing ---------- */

/* The vine key layout (issue 20): a lock's keys go under vine's mutex
 * prefix path.Join(prefix, replace(prefix+id, "/", "-")); an unknown
 * layout is named in the error. */
static void test_vine_layout(void) {
  vs_options *o = NULL;
  vs_error *err = NULL;
  vs_sync *s = NULL;
  vs_guard *g = NULL;
  char prefix[64], want[160];
  snprintf(prefix, sizeof prefix, "/ctest-vine/%d", (int)getpid());
  CHECK(vs_options_new(&o, NULL) == VS_OK);
  if (!o) return;
  CHECK_STATUS(vs_options_set_layout(o, "vine2", &err), VS_INVALID_ARGUMENT);
  CHECK(err && strstr(vs_error_message(err), "\"vine2\""));
  vs_error_free(&err);
  /* The vine layout's default prefix is vine's (empty) unless one is set
   * explicitly, before or after the layout. */
  {
    vs_options *d = NULL;
    char got[64];
    CHECK(vs_options_new(&d, NULL) == VS_OK);
    if (d) {
      CHECK_STATUS(vs_options_set_layout(d, "vine", NULL), VS_OK);
      CHECK(vs_options_get_prefix(d, got, sizeof got) == 0 && got[0] == '\0');
      CHECK_STATUS(vs_options_set_layout(d, "vinesync", NULL), VS_OK);
      vs_options_get_prefix(d, got, sizeof got);
      CHECK(strcmp(got, "/vine/sync") == 0);
      CHECK_STATUS(vs_options_set_prefix(d, "/set-first", NULL), VS_OK);
      CHECK_STATUS(vs_options_set_layout(d, "vine", NULL), VS_OK);
      vs_options_get_prefix(d, got, sizeof got);
      CHECK(strcmp(got, "/set-first") == 0);
      vs_options_free(&d);
    }
  }
  CHECK_STATUS(vs_options_set_layout(o, "vine", NULL), VS_OK);
  vs_options_set_prefix(o, prefix, NULL);
  const char *nodes = getenv("VINESYNC_NODES");
  if (on_etcd) {
    vs_options_set_nodes(o, nodes, NULL);
    CHECK_STATUS(vs_sync_new_etcd(o, NULL, &s, NULL), VS_OK);
  } else {
    CHECK_STATUS(vs_sync_new_memory(o, &s, NULL), VS_OK);
  }
  vs_options_free(&o);
  if (!s) return;
  CHECK_STATUS(vs_lock(s, "l/1", 5000, 0, NULL, &g, NULL), VS_OK);
  /* "/ctest-vine/PID" + "l/1" (no separator, as vine) with '/' -> '-' */
  snprintf(want, sizeof want, "%s/-ctest-vine-%dl-1/", prefix, (int)getpid());
  CHECK(g && strncmp(vs_guard_key(g), want, strlen(want)) == 0);
  if (g) CHECK_STATUS(vs_guard_unlock(g, NULL, NULL), VS_OK);
  vs_guard_free(&g);
  vs_sync_free(&s);
}

static void test_errors_misuse(void) {
  vs_error *err = NULL;
  vs_sync *s = new_sync("misuse");
  CHECK(s != NULL);
  if (!s) return;
  /* NULL everywhere */
  CHECK_STATUS(vs_lock(NULL, "x", 1000, 0, NULL, NULL, &err), VS_INVALID_ARGUMENT);
  CHECK(err && strstr(vs_error_message(err), "sync is NULL"));
  vs_error_free(&err);
  vs_error_free(&err); /* double free through the same variable: harmless */
  vs_error_free(NULL);
  CHECK_STATUS(vs_lock(s, NULL, 1000, 0, NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  CHECK_STATUS(vs_unlock(s, NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  CHECK_STATUS(vs_try_lock(NULL, NULL, 0, NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  CHECK_STATUS(vs_leader_new(s, NULL, NULL, NULL, 0, NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  CHECK_STATUS(vs_list_members(s, NULL, NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  CHECK_STATUS(vs_watcher_next(NULL, 0, NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  CHECK_STATUS(vs_options_set_prefix(NULL, "/x", NULL), VS_INVALID_ARGUMENT);
  CHECK_STATUS(vs_sync_new_memory(NULL, NULL, NULL), VS_INVALID_ARGUMENT);
  CHECK(vs_guard_fencing_token(NULL) == 0);
  CHECK(strcmp(vs_sync_name(NULL), "") == 0);
  vs_sync_free(NULL);
  vs_guard_free(NULL);
  vs_leader_free(NULL);
  vs_watcher_free(NULL);
  vs_cancel_free(NULL);
  vs_cancel_fire(NULL);
  vs_options_free(NULL);
  vs_member_list_free(NULL);
  /* bad ids */
  CHECK_STATUS(vs_lock(s, "", 1000, 0, NULL, NULL, &err), VS_INVALID_ARGUMENT);
  vs_error_free(&err);
  const char bad_utf8[] = {'a', (char)0xff, (char)0xfe, 0};
  CHECK_STATUS(vs_lock(s, bad_utf8, 1000, 0, NULL, NULL, &err), VS_INVALID_ARGUMENT);
  CHECK(err && strstr(vs_error_message(err), "UTF-8"));
  vs_error_free(&err);
  size_t big = 2u << 20;
  char *huge = malloc(big + 1);
  memset(huge, 'x', big);
  huge[big] = 0;
  CHECK_STATUS(vs_lock(s, huge, 1000, 0, NULL, NULL, &err), VS_INVALID_ARGUMENT);
  vs_error_free(&err);
  free(huge);
  CHECK_STATUS(vs_lock(s, "x", 999, 0, NULL, NULL, &err), VS_INVALID_ARGUMENT); /* TTL < 1 s */
  CHECK(err && strstr(vs_error_message(err), "LockTTL"));
  vs_error_free(&err);
  /* a cancel token fired before the call */
  vs_cancel *c = vs_cancel_new();
  vs_cancel_fire(c);
  CHECK_STATUS(vs_lock(s, "x", 1000, 0, c, NULL, NULL), VS_CANCELLED);
  vs_cancel_free(&c);
  vs_cancel_free(&c);
  /* a closed handle */
  CHECK_STATUS(vs_sync_close(s, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_sync_close(s, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_lock(s, "x", 1000, 0, NULL, NULL, NULL), VS_CLOSED);
  CHECK_STATUS(vs_unlock(s, "x", NULL, NULL), VS_CLOSED);
  vs_sync_free(&s);
  CHECK(s == NULL);
  vs_sync_free(&s);
  CHECK(strcmp(vs_version(), VINESYNC_VERSION_STRING) == 0);
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  const char *nodes = getenv("VINESYNC_NODES");
  on_etcd = nodes && *nodes;
  struct test tests[] = {
      {"l1_exclusion_16_threads_one_handle", test_l1_exclusion_16_threads_one_handle},
      {"l1_exclusion_16_threads_four_handles", test_l1_exclusion_16_threads_four_handles},
      {"l2_lock_wait_gives_lock_timeout", test_l2_lock_wait_gives_lock_timeout},
      {"l3_seed_example_held_by_the_handle", test_l3_seed_example_held_by_the_handle},
      {"l5_fencing_tokens_increase", test_l5_fencing_tokens_increase},
      {"l7_unlock_not_held", test_l7_unlock_not_held},
      {"l8_cancel_token_leaves_no_waiter", test_l8_cancel_token_leaves_no_waiter},
      {"l10_try_lock_would_block", test_l10_try_lock_would_block},
      {"l4_ttl_keepalive_and_crash", test_l4_ttl_keepalive_and_crash},
      {"l6_lost_when_keepalive_stops", test_l6_lost_when_keepalive_stops},
      {"l9_waiter_with_expired_lease", test_l9_waiter_with_expired_lease},
      {"e5_failover_after_crash", test_e5_failover_after_crash},
      {"e1_e2_e7_leader_members", test_e1_e2_e7_leader_members},
      {"e3_e4_e6_status_resign_observe", test_e3_e4_e6_status_resign_observe},
      {"e8_watch_elect_events", test_e8_watch_elect_events},
      {"l2_waiters_served_in_arrival_order", test_l2_waiters_served_in_arrival_order},
      {"l6_key_deleted_by_someone_else_unlock_gives_lost", test_l6_key_deleted_by_someone_else_unlock_gives_lost},
      {"h1_a_lock_lost_before_the_close_stays_lost", test_h1_a_lock_lost_before_the_close_stays_lost},
      {"e7_prefix_isolation_ns_vs_ns2", test_e7_prefix_isolation_ns_vs_ns2},
      {"e8_watch_elect_id_filter", test_e8_watch_elect_id_filter},
      {"init_and_options", test_init_and_options},
      {"outputs_untouched_on_failure", test_outputs_untouched_on_failure},
      {"errors_misuse", test_errors_misuse},
      {"vine_layout", test_vine_layout},
  };
  char title[128];
  snprintf(title, sizeof title, "vinesync C tests on %s", on_etcd ? "etcd" : "memory");
  return run_tests(title, tests, sizeof tests / sizeof tests[0], only);
}
