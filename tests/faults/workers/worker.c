/*
 * The C worker of the fault suite (same protocol as the Rust worker,
 * tests/faults/src/bin/vinesync-fault-worker.rs):
 *
 *   worker lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS
 *   worker elect NAME NS TTL_S SECONDS
 *
 * with VINESYNC_NODES and VINESYNC_PREFIX in the environment. Events are
 * stamped with CLOCK_MONOTONIC nanoseconds (the suite's clock). A candidate
 * campaigns until a line (STOP) arrives on stdin, or for at most SECONDS.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vinesync.h>

static void fail(const char *what, vs_error *err) {
  fprintf(stderr, "vinesync-fault-worker (c): %s: %s\n", what, err ? vs_error_message(err) : "failed");
  exit(1);
}

static long long now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Alive and idle until the suite closes stdin: it checks for leaks now. */
static void idle_until_stdin_closes(void) {
  printf("IDLE %lld\n", now());
  fflush(stdout);
  char buffer[256];
  while (fread(buffer, 1, sizeof buffer, stdin) > 0) {
  }
}

/* Whether the suite has written its line (or closed stdin) yet; reads what
   arrived without waiting. */
static bool told_to_stop(void) {
  struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
  if (poll(&in, 1, 0) <= 0) return false;
  char buffer[64];
  ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
  return n <= 0 || memchr(buffer, '\n', (size_t)n) != NULL;
}

static FILE *connect_resource(const char *address) {
  char host[64];
  const char *colon = strrchr(address, ':');
  if (!colon || (size_t)(colon - address) >= sizeof host) fail("resource address", NULL);
  memcpy(host, address, (size_t)(colon - address));
  host[colon - address] = 0;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) fail("resource host", NULL);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) fail("connecting to the resource", NULL);
  FILE *f = fdopen(fd, "r+");
  if (!f) fail("fdopen", NULL);
  return f;
}

static void ask(FILE *resource, const char *request, char *answer, size_t size) {
  fprintf(resource, "%s\n", request);
  fflush(resource);
  if (!fgets(answer, (int)size, resource)) fail("reading the resource", NULL);
  answer[strcspn(answer, "\r\n")] = 0;
}

static void lock_rounds(const char *id, int rounds, long ttl_s, const char *address, long hold_ms) {
  vs_sync *s = NULL;
  vs_error *err = NULL;
  if (vs_sync_new_from_env(NULL, &s, &err) != VS_OK) fail("connect", err);
  FILE *resource = connect_resource(address);
  char answer[128], request[128];
  const char *short_wait_env = getenv("VINESYNC_FAULTS_SHORT_WAIT_MS");
  uint64_t short_wait_ms = short_wait_env ? strtoull(short_wait_env, NULL, 10) : 30;
  for (int r = 0; r < rounds; r++) {
    vs_guard *g = NULL;
    /* A short wait that often runs out first: its waiter key must go (L8). */
    vs_status got = vs_lock(s, id, (uint64_t)ttl_s * 1000, short_wait_ms, NULL, &g, &err);
    if (got == VS_LOCK_TIMEOUT) {
      vs_error_free(&err);
      printf("GAVE-UP %lld\n", now());
      fflush(stdout);
      got = vs_lock(s, id, (uint64_t)ttl_s * 1000, 0, NULL, &g, &err);
    }
    if (got != VS_OK) fail("lock", err);
    unsigned long long token = (unsigned long long)vs_guard_fencing_token(g);
    printf("HOLD %llu %lld\n", token, now());
    fflush(stdout);
    snprintf(request, sizeof request, "READ %llu", token);
    ask(resource, request, answer, sizeof answer);
    if (strncmp(answer, "VALUE ", 6) == 0) {
      unsigned long long value = strtoull(answer + 6, NULL, 10);
      struct timespec hold = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
      nanosleep(&hold, NULL); /* the critical section (a pause lands here) */
      snprintf(request, sizeof request, "WRITE %llu %llu", token, value + 1);
      ask(resource, request, answer, sizeof answer);
    } /* else: turned away already at the read */
    printf("%s %llu\n", strcmp(answer, "OK") == 0 ? "ACK" : "STALE", token);
    if (vs_guard_is_lost(g)) {
      printf("LOST %llu %lld\n", token, now());
    } else {
      printf("RELEASE %llu %lld\n", token, now());
      fflush(stdout);
      vs_status st = vs_guard_unlock(g, NULL, &err);
      if (st == VS_LOST) {
        vs_error_free(&err);
        printf("LOST %llu %lld\n", token, now());
      } else if (st == VS_OK) {
        printf("RELEASED %llu %lld\n", token, now());
      } else {
        fail("unlock", err);
      }
    }
    fflush(stdout);
    vs_guard_free(&g);
  }
  fclose(resource);
  idle_until_stdin_closes();
  vs_sync_free(&s);
}

static void elect(const char *name, const char *ns, long ttl_s, double seconds) {
  vs_sync *s = NULL;
  vs_error *err = NULL;
  if (vs_sync_new_from_env(NULL, &s, &err) != VS_OK) fail("connect", err);
  vs_watcher *w = NULL;
  if (vs_watch_elect(s, ns, NULL, NULL, &w, &err) != VS_OK) fail("watch", err);
  printf("WATCHING %lld\n", now());
  fflush(stdout);
  vs_leader *l = NULL;
  if (vs_leader_new(s, "faults", ns, name, (uint64_t)ttl_s * 1000, NULL, &l, &err) != VS_OK) fail("leader", err);
  long long deadline = now() + (long long)(seconds * 1e9);
  while (now() < deadline && !told_to_stop()) {
    bool primary = false;
    vs_error *ended = NULL;
    vs_status st = vs_leader_status_next(l, 20, NULL, &primary, &ended);
    if (st == VS_OK) {
      printf("%s %lld\n", primary ? "ELECTED" : "DEMOTED", now());
      fflush(stdout);
    } else if (st != VS_TIMED_OUT) {
      /* The candidacy ended (its lease was lost): a real service runs again. */
      printf("ENDED %lld %s\n", now(), ended ? vs_error_message(ended) : "");
      fflush(stdout);
      vs_error_free(&ended);
      vs_leader_free(&l);
      if (vs_leader_new(s, "faults", ns, name, (uint64_t)ttl_s * 1000, NULL, &l, &err) != VS_OK) fail("leader", err);
      printf("CAMPAIGNING %lld\n", now());
      fflush(stdout);
    }
    vs_event *ev = NULL;
    vs_error *watch_err = NULL;
    vs_status ws = vs_watcher_next(w, 20, NULL, &ev, &watch_err);
    if (ws == VS_OK) {
      if (vs_event_get_kind(ev) == VS_EVENT_ELECTED) {
        printf("WATCHED %s %lld\n", vs_member_id(vs_event_member(ev)), now());
        fflush(stdout);
      }
      vs_event_free(&ev);
    } else if (ws != VS_TIMED_OUT) {
      printf("WATCH-ENDED %lld %d %s\n", now(), (int)ws, watch_err ? vs_error_message(watch_err) : "");
      fflush(stdout);
      vs_error_free(&watch_err);
    }
  }
  /* A campaign call may have blocked this loop (etcd electing a leader):
     report what the watch received meanwhile before saying UNWATCHING. */
  for (;;) {
    vs_event *ev = NULL;
    if (vs_watcher_next(w, 200, NULL, &ev, NULL) != VS_OK) break;
    if (vs_event_get_kind(ev) == VS_EVENT_ELECTED) {
      printf("WATCHED %s %lld\n", vs_member_id(vs_event_member(ev)), now());
    }
    vs_event_free(&ev);
  }
  printf("UNWATCHING %lld\n", now()); /* every change before this was expected */
  fflush(stdout);
  vs_watcher_free(&w);
  vs_status resigned = vs_leader_resign(l, NULL, &err);
  if (resigned == VS_LOST) vs_error_free(&err);
  else if (resigned != VS_OK) fail("resign", err);
  vs_leader_free(&l);
  idle_until_stdin_closes();
  vs_sync_free(&s);
}

int main(int argc, char **argv) {
  if (argc == 8 && strcmp(argv[1], "lock") == 0) {
    lock_rounds(argv[3], atoi(argv[4]), atol(argv[5]), argv[6], atol(argv[7]));
  } else if (argc == 6 && strcmp(argv[1], "elect") == 0) {
    elect(argv[2], argv[3], atol(argv[4]), atof(argv[5]));
  } else {
    fprintf(stderr, "usage: worker lock|elect ...\n");
    return 2;
  }
  printf("DONE\n");
  return 0;
}
