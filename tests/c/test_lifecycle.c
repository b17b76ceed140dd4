/*
 * Handle lifecycle of libvinesync (SPEC §8): fork (H5), a guard watched
 * from another thread, release on free (H2), errors kept, NULL events.
 * Built against the test build (it uses vs_sync_fault_*). Memory backend by
 * default; etcd when VINESYNC_NODES is set. Ends with "N passed, M failed".
 * The exit cases (H4) are separate programs: exit_cases.c, exit_global.cpp.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vinesync.h>
#include <vinesync_test.h>

#include "harness.h"

static int on_etcd;
static int run_id; /* the test process's pid, also in a forked child */

/* A new handle on the backend under test, under a prefix of its own. */
static vs_sync *new_sync(const char *test) {
  char prefix[256];
  snprintf(prefix, sizeof prefix, "/ctest-life/%s/%d", test, run_id);
  return new_sync_under(prefix);
}

/* ---- H5: after fork, the parent's handles are closed in the child ---- */

/* Runs in the child; returns the number of failed checks (the exit code). */
static int child_after_fork(vs_sync *s, vs_guard *g, vs_leader *l) {
  int bad = 0;
#define CHILD_EXPECT(call, expected)                                              \
  do {                                                                            \
    vs_status got_ = (call);                                                      \
    if (got_ != (expected)) {                                                     \
      fprintf(stderr, "  child: %s returned %d, expected %d\n", #call, (int)got_, \
              (int)(expected));                                                   \
      bad++;                                                                      \
    }                                                                             \
  } while (0)
  vs_error *err = NULL;
  CHILD_EXPECT(vs_unlock(s, "f", NULL, &err), VS_CLOSED);
  if (!err || !strstr(vs_error_message(err), "fork")) {
    fprintf(stderr, "  child: the error does not mention fork: %s\n", vs_error_message(err));
    bad++;
  }
  vs_error_free(&err);
  CHILD_EXPECT(vs_try_lock(s, "f2", 10000, NULL, NULL, NULL), VS_CLOSED);
  CHILD_EXPECT(vs_guard_unlock(g, NULL, NULL), VS_CLOSED);
  CHILD_EXPECT(vs_guard_wait_lost(g, 300, NULL, NULL), VS_CLOSED);
  CHILD_EXPECT(vs_leader_wait_elected(l, 300, NULL, NULL), VS_CLOSED);
  CHILD_EXPECT(vs_leader_resign(l, NULL, NULL), VS_CLOSED);
  CHILD_EXPECT(vs_sync_close(s, NULL, NULL), VS_CLOSED);
  /* Freeing the parent's handles forgets them; nothing is released. */
  vs_guard_free(&g);
  vs_leader_free(&l);
  vs_sync_free(&s);
  /* A new handle works in the child. */
  vs_sync *mine = new_sync("h5");
  if (!mine) {
    fprintf(stderr, "  child: cannot make a new handle\n");
    return bad + 1;
  }
  vs_status own = vs_try_lock(mine, "f", 10000, NULL, NULL, NULL);
  /* etcd: the parent still holds "f"; memory: the child's store is its own. */
  if (own != (on_etcd ? VS_WOULD_BLOCK : VS_OK)) {
    fprintf(stderr, "  child: try_lock of the parent's lock returned %d\n", (int)own);
    bad++;
  }
  CHILD_EXPECT(vs_lock(mine, "child-only", 10000, 5000, NULL, NULL, NULL), VS_OK);
  CHILD_EXPECT(vs_unlock(mine, "child-only", NULL, NULL), VS_OK);
  vs_sync_free(&mine);
  return bad;
#undef CHILD_EXPECT
}

static void test_h5_fork_parent_handles_closed_in_child(void) {
  vs_sync *s = new_sync("h5"), *other = new_sync("h5");
  CHECK(s && other);
  if (!(s && other)) return;
  vs_guard *g = NULL;
  vs_leader *l = NULL;
  CHECK_STATUS(vs_lock(s, "f", 10000, 5000, NULL, &g, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(s, "svc", "h5", "parent", 10000, NULL, &l, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(l, 5000, NULL, NULL), VS_OK);
  /* The child reports its failed checks through a pipe, not its exit code:
   * under valgrind the child's exit code also counts the memory of the
   * parent's threads, which do not exist in it (leaked by construction). */
  int report[2];
  CHECK(pipe(report) == 0);
  fflush(NULL);
  pid_t child = fork();
  if (child == 0) {
    close(report[0]);
    unsigned char bad = (unsigned char)child_after_fork(s, g, l);
    if (write(report[1], &bad, 1) != 1) _exit(1);
    _exit(0);
  }
  close(report[1]);
  CHECK(child > 0);
  int status = -1, waited = 0;
  for (int i = 0; i < 300 && !waited; i++) { /* at most 30 s */
    waited = waitpid(child, &status, WNOHANG) == child;
    if (!waited) sleep_ms(100);
  }
  if (!waited) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  unsigned char child_failures = 255;
  CHECK(read(report[0], &child_failures, 1) == 1); /* else the child died */
  CHECK(child_failures == 0);
  close(report[0]);
  CHECK(waited && WIFEXITED(status));
  if (!waited) fprintf(stderr, "  the child did not finish in 30 s (killed)\n");
  else if (WIFSIGNALED(status)) fprintf(stderr, "  the child died of signal %d\n", WTERMSIG(status));
  /* The parent's lock and candidacy were not touched by the child. */
  CHECK(!vs_guard_is_lost(g));
  CHECK_STATUS(vs_try_lock(other, "f", 10000, NULL, NULL, NULL), VS_WOULD_BLOCK);
  CHECK(vs_leader_is_primary(l));
  CHECK_STATUS(vs_guard_unlock(g, NULL, NULL), VS_OK);
  vs_guard_free(&g);
  vs_leader_free(&l);
  vs_sync_free(&s);
  vs_sync_free(&other);
}

/* ---- a guard used from two threads: released vs lost --------------- */

struct waiter {
  vs_guard *g;
  vs_status status;
  atomic_int calling; /* the thread's id, set just before the call */
};

static void *wait_lost_thread(void *arg) {
  struct waiter *w = arg;
  vs_guard *g = w->g; /* read before `calling`: the main thread may free it after */
  atomic_store(&w->calling, (int)syscall(SYS_gettid));
  w->status = vs_guard_wait_lost(g, 20000, NULL, NULL);
  return NULL;
}

/* Whether thread `tid` of this process is asleep (state S or D): after it
 * said it is calling, it can only sleep inside the call. */
static bool thread_asleep(int tid) {
  char path[64], stat[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = '\0';
  const char *end = strrchr(stat, ')'); /* the name may hold spaces */
  return end && (end[2] == 'S' || end[2] == 'D');
}

/* Returns once the thread is blocked inside vs_guard_wait_lost (polled,
 * at most 20 s each: thread start-up is not bounded), plus 100 ms (under
 * valgrind a thread waiting for its turn to run is asleep too). */
static void wait_until_calling(struct waiter *w) {
  for (int i = 0; i < 2000 && !atomic_load(&w->calling); i++) sleep_ms(10);
  CHECK(atomic_load(&w->calling));
  int tid = atomic_load(&w->calling);
  bool asleep = false;
  for (int i = 0; i < 2000 && tid && !(asleep = thread_asleep(tid)); i++) sleep_ms(10);
  CHECK(asleep);
  sleep_ms(100);
}

/* How the other thread ends the lock: 0 guard_unlock, 1 vs_unlock, 2 free. */
static void released_while_watched(vs_sync *s, int how) {
  struct waiter w = {NULL, VS_INTERNAL, 0};
  CHECK_STATUS(vs_lock(s, "w", 10000, 5000, NULL, &w.g, NULL), VS_OK);
  pthread_t t;
  pthread_create(&t, NULL, wait_lost_thread, &w);
  wait_until_calling(&w);
  if (how == 0) CHECK_STATUS(vs_guard_unlock(w.g, NULL, NULL), VS_OK);
  if (how == 1) CHECK_STATUS(vs_unlock(s, "w", NULL, NULL), VS_OK);
  if (how == 2) vs_guard_free(&w.g); /* returns after the waiter did */
  pthread_join(t, NULL);
  CHECK_STATUS(w.status, VS_NOT_LOCKED); /* released, not lost */
  if (w.g) {
    CHECK(!vs_guard_is_lost(w.g));
    CHECK_STATUS(vs_guard_wait_lost(w.g, 100, NULL, NULL), VS_NOT_LOCKED);
  }
  vs_guard_free(&w.g);
  CHECK_STATUS(vs_try_lock(s, "w", 10000, NULL, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_unlock(s, "w", NULL, NULL), VS_OK);
}

static void test_guard_released_while_watched_from_another_thread(void) {
  vs_sync *s = new_sync("guard-threads");
  CHECK(s);
  if (!s) return;
  for (int how = 0; how < 3; how++) released_while_watched(s, how);
  vs_sync_free(&s);
}

static void test_l6_guard_lost_while_watched_from_another_thread(void) {
  vs_sync *a = new_sync("guard-lost"), *b = new_sync("guard-lost");
  CHECK(a && b);
  if (!(a && b)) return;
  struct waiter w = {NULL, VS_INTERNAL, 0};
  CHECK_STATUS(vs_lock(a, "w", 10000, 5000, NULL, &w.g, NULL), VS_OK);
  pthread_t t;
  pthread_create(&t, NULL, wait_lost_thread, &w);
  wait_until_calling(&w);
  CHECK_STATUS(vs_sync_fault_expire_leases(a, NULL), VS_OK);
  pthread_join(t, NULL);
  CHECK_STATUS(w.status, VS_OK); /* lost */
  CHECK(vs_guard_is_lost(w.g));
  CHECK_STATUS(vs_guard_unlock(w.g, NULL, NULL), VS_LOST);
  CHECK(vs_guard_is_lost(w.g)); /* still lost after the unlock */
  CHECK_STATUS(vs_guard_wait_lost(w.g, 100, NULL, NULL), VS_OK);
  vs_guard_free(&w.g);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* ---- H1: closing a handle wakes a call blocked in it ------------------ */

struct blocked_lock {
  vs_sync *s;
  vs_status status;
};

static void *lock_blocked(void *arg) {
  struct blocked_lock *b = arg;
  b->status = vs_lock(b->s, "busy", 10000, 0, NULL, NULL, NULL); /* no wait limit */
  return NULL;
}

static void test_h1_close_wakes_a_blocked_lock(void) {
  vs_sync *holder = new_sync("h1-close"), *s = new_sync("h1-close");
  CHECK(holder && s);
  if (!(holder && s)) return;
  CHECK_STATUS(vs_lock(holder, "busy", 10000, 0, NULL, NULL, NULL), VS_OK);
  struct blocked_lock b = {s, VS_INTERNAL};
  pthread_t t;
  pthread_create(&t, NULL, lock_blocked, &b);
  CHECK(waiters_queued(holder, "busy", 1)); /* blocked in the queue, not granting */
  CHECK_STATUS(vs_sync_close(s, NULL, NULL), VS_OK);
  pthread_join(t, NULL); /* returns: a hang here is the failure */
  CHECK_STATUS(b.status, VS_CLOSED);
  vs_sync_free(&s);
  vs_sync_free(&holder);
}

/* ---- H1: closing a Sync closes what was made from it ------------------ */

/* The next `vs_watcher_next` results until VS_CLOSED (events buffered
   before the close may come first); whether it ended within ~5 s. */
static int watcher_ends(vs_watcher *w) {
  for (int i = 0; i < 100; i++) {
    vs_event *e = NULL;
    vs_status got = vs_watcher_next(w, 5000, NULL, &e, NULL);
    vs_event_free(&e);
    if (got == VS_CLOSED) return 1;
    if (got != VS_OK) return 0;
  }
  return 0;
}

static void test_h1_sync_close_closes_its_guards_leaders_and_watchers(void) {
  vs_sync *s = new_sync("h1-children");
  CHECK(s);
  if (!s) return;
  struct waiter w = {NULL, VS_INTERNAL, 0};
  CHECK_STATUS(vs_lock(s, "g", 10000, 5000, NULL, &w.g, NULL), VS_OK);
  vs_leader *l = NULL;
  CHECK_STATUS(vs_leader_new(s, "svc", "h1", "a", 60000, NULL, &l, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(l, 5000, NULL, NULL), VS_OK);
  vs_watcher *watch = NULL, *observe = NULL;
  CHECK_STATUS(vs_watch_elect(s, "h1", NULL, NULL, &watch, NULL), VS_OK);
  CHECK_STATUS(vs_leader_observe(l, NULL, &observe, NULL), VS_OK);
  pthread_t t;
  pthread_create(&t, NULL, wait_lost_thread, &w);
  wait_until_calling(&w);
  CHECK(!vs_guard_is_released(w.g));
  CHECK_STATUS(vs_sync_close(s, NULL, NULL), VS_OK);
  pthread_join(t, NULL);
  CHECK_STATUS(w.status, VS_CLOSED); /* woken, and not told "lost" */
  CHECK(!vs_guard_is_lost(w.g));
  CHECK(vs_guard_is_released(w.g)); /* by the close */
  CHECK_STATUS(vs_guard_wait_lost(w.g, 100, NULL, NULL), VS_CLOSED);
  CHECK_STATUS(vs_guard_unlock(w.g, NULL, NULL), VS_CLOSED);
  CHECK(!vs_guard_is_lost(w.g)); /* the guard's answers stay what they were */
  CHECK_STATUS(vs_guard_wait_lost(w.g, 100, NULL, NULL), VS_CLOSED);
  CHECK(!vs_leader_is_primary(l));
  CHECK_STATUS(vs_leader_wait_elected(l, 100, NULL, NULL), VS_CLOSED);
  CHECK_STATUS(vs_leader_resign(l, NULL, NULL), VS_CLOSED);
  vs_owned_member *primary = NULL;
  CHECK_STATUS(vs_leader_primary(l, NULL, &primary, NULL), VS_CLOSED);
  vs_owned_member_free(&primary);
  vs_lock_info *info = NULL;
  CHECK_STATUS(vs_inspect_lock(s, "g", NULL, &info, NULL), VS_CLOSED);
  CHECK(watcher_ends(watch));
  CHECK(watcher_ends(observe));
  vs_watcher_free(&watch);
  vs_watcher_free(&observe);
  vs_guard_free(&w.g);
  vs_leader_free(&l);
  vs_sync_free(&s);
}

/* ---- H2: vs_guard_free and vs_leader_free release before returning -- */

static void test_h2_free_releases_before_returning(void) {
  vs_sync *a = new_sync("free-release"), *b = new_sync("free-release");
  CHECK(a && b);
  if (!(a && b)) return;
  int blocked = 0, rounds = 50; /* before the fix: a third or more refused */
  for (int i = 0; i < rounds; i++) {
    vs_guard *g = NULL;
    CHECK_STATUS(vs_try_lock(a, "x", 10000, NULL, &g, NULL), VS_OK);
    vs_guard_free(&g);
    vs_guard *g2 = NULL;
    if (vs_try_lock(b, "x", 10000, NULL, &g2, NULL) != VS_OK) blocked++;
    vs_guard_free(&g2);
  }
  CHECK(blocked == 0);
  if (blocked) fprintf(stderr, "  %d of %d try_lock calls after vs_guard_free were refused\n", blocked, rounds);
  vs_leader *la = NULL, *lb = NULL;
  CHECK_STATUS(vs_leader_new(a, "svc", "free", "a", 60000, NULL, &la, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(b, "svc", "free", "b", 60000, NULL, &lb, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(la, 5000, NULL, NULL), VS_OK);
  vs_leader_free(&la);
  vs_member_list *list = NULL;
  CHECK_STATUS(vs_list_members(b, "free", NULL, &list, NULL), VS_OK);
  CHECK(vs_member_list_len(list) == 1); /* "a" is gone once free returned */
  vs_member_list_free(&list);
  CHECK_STATUS(vs_leader_wait_elected(lb, 5000, NULL, NULL), VS_OK);
  vs_leader_free(&lb);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* ---- H2: a token fired before a release stops the wait, not the release */

/* Whether `b` can take lock `id` within about 5 s (the release may still be
   running in the background on etcd). */
static int becomes_free(vs_sync *b, const char *id) {
  for (int i = 0; i < 250; i++) {
    vs_guard *g = NULL;
    if (vs_try_lock(b, id, 10000, NULL, &g, NULL) == VS_OK) {
      vs_guard_free(&g);
      return 1;
    }
    usleep(20000);
  }
  return 0;
}

static void test_h2_token_fired_before_a_release_still_releases(void) {
  vs_sync *a = new_sync("h2-fired"), *b = new_sync("h2-fired");
  CHECK(a && b);
  if (!(a && b)) return;
  vs_cancel *fired = vs_cancel_new();
  vs_cancel_fire(fired);
  /* vs_unlock */
  CHECK_STATUS(vs_lock(a, "u", 10000, 0, NULL, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_unlock(a, "u", fired, NULL), VS_CANCELLED);
  CHECK(becomes_free(b, "u"));
  /* vs_guard_unlock */
  vs_guard *g = NULL;
  CHECK_STATUS(vs_lock(a, "g", 10000, 0, NULL, &g, NULL), VS_OK);
  CHECK_STATUS(vs_guard_unlock(g, fired, NULL), VS_CANCELLED);
  CHECK(becomes_free(b, "g"));
  vs_guard_free(&g);
  /* vs_leader_resign */
  vs_leader *la = NULL, *lb = NULL;
  CHECK_STATUS(vs_leader_new(a, "svc", "fired", "a", 60000, NULL, &la, NULL), VS_OK);
  CHECK_STATUS(vs_leader_wait_elected(la, 5000, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_leader_new(b, "svc", "fired", "b", 60000, NULL, &lb, NULL), VS_OK);
  CHECK_STATUS(vs_leader_resign(la, fired, NULL), VS_CANCELLED);
  CHECK_STATUS(vs_leader_wait_elected(lb, 5000, NULL, NULL), VS_OK);
  vs_leader_free(&la);
  vs_leader_free(&lb);
  /* vs_sync_close: the handle is closed anyway */
  CHECK_STATUS(vs_lock(a, "c", 10000, 0, NULL, NULL, NULL), VS_OK);
  CHECK_STATUS(vs_sync_close(a, fired, NULL), VS_CANCELLED);
  CHECK(becomes_free(b, "c"));
  CHECK_STATUS(vs_lock(a, "c2", 10000, 0, NULL, NULL, NULL), VS_CLOSED);
  vs_cancel_free(&fired);
  vs_sync_free(&a);
  vs_sync_free(&b);
}

/* ---- errors: an earlier error is kept; NULL event ------------------- */

static void test_errors_kept_and_null_inputs(void) {
  vs_sync *s = new_sync("errors");
  CHECK(s);
  if (!s) return;
  vs_error *err = NULL;
  CHECK_STATUS(vs_unlock(s, "never", NULL, &err), VS_NOT_LOCKED);
  vs_error *first = err;
  CHECK(first != NULL);
  /* *err is not NULL: the first error is kept, neither overwritten nor leaked */
  CHECK_STATUS(vs_lock(NULL, "x", 0, 0, NULL, NULL, &err), VS_INVALID_ARGUMENT);
  CHECK(err == first && vs_error_status(err) == VS_NOT_LOCKED);
  vs_error_free(&err);
  CHECK(vs_event_get_kind(NULL) == VS_EVENT_INVALID);
  CHECK(vs_event_member(NULL) == NULL && vs_event_revision(NULL) == 0);
  CHECK(vs_owned_member_get(NULL) == NULL);
  CHECK(vs_guard_is_lost(NULL) && vs_leader_is_ended(NULL) && !vs_leader_is_primary(NULL));
  CHECK(strcmp(vs_guard_id(NULL), "") == 0 && strcmp(vs_leader_name(NULL), "") == 0);
  CHECK_STATUS(vs_guard_wait_lost(NULL, 1, NULL, &err), VS_INVALID_ARGUMENT);
  CHECK(err && strstr(vs_error_message(err), "guard is NULL"));
  vs_error_free(&err);
  vs_guard_free(NULL);
  vs_leader_free(NULL);
  vs_watcher_free(NULL);
  vs_sync_free(NULL);
  vs_sync_free(&s);
}

/* ---- a panic inside the library: an error message, not stderr text ---- */

static void test_caught_panic_is_the_error_message_not_stderr(void) {
  char path[] = "/tmp/vinesync-stderr-XXXXXX";
  int capture = mkstemp(path);
  CHECK(capture >= 0);
  if (capture < 0) return;
  unlink(path);
  fflush(stderr);
  int saved = dup(2);
  dup2(capture, 2);
  vs_error *err = NULL;
  vs_status status = vs_sync_fault_panic(&err);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  CHECK_STATUS(status, VS_INTERNAL);
  CHECK(err && strstr(vs_error_message(err), "vs_sync_fault_panic was called"));
  vs_error_free(&err);
  CHECK(lseek(capture, 0, SEEK_END) == 0); /* nothing written to stderr */
  close(capture);
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  const char *nodes = getenv("VINESYNC_NODES");
  on_etcd = nodes && *nodes;
  run_id = (int)getpid();
  struct test tests[] = {
      {"h5_fork_parent_handles_closed_in_child", test_h5_fork_parent_handles_closed_in_child},
      {"h1_guard_released_while_watched_from_another_thread",
       test_guard_released_while_watched_from_another_thread},
      {"l6_guard_lost_while_watched_from_another_thread",
       test_l6_guard_lost_while_watched_from_another_thread},
      {"h1_close_wakes_a_blocked_lock", test_h1_close_wakes_a_blocked_lock},
      {"h1_sync_close_closes_its_guards_leaders_and_watchers",
       test_h1_sync_close_closes_its_guards_leaders_and_watchers},
      {"h2_free_releases_before_returning", test_h2_free_releases_before_returning},
      {"h2_token_fired_before_a_release_still_releases", test_h2_token_fired_before_a_release_still_releases},
      {"errors_kept_and_null_inputs", test_errors_kept_and_null_inputs},
      {"caught_panic_is_the_error_message_not_stderr", test_caught_panic_is_the_error_message_not_stderr},
  };
  char title[128];
  snprintf(title, sizeof title, "vinesync C lifecycle tests on %s", on_etcd ? "etcd" : "memory");
  return run_tests(title, tests, sizeof tests / sizeof tests[0], only);
}
