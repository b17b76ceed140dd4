/*
 * What the C test programs share: CHECK and CHECK_STATUS (count a failure
 * in the current test and go on), sleep_ms, new_sync_under and waiters_queued (from
 * backend_under_test.h) and run_tests (runs the tests whose name contains
 * one of argv[1]'s comma-separated words, or all; ends with "N passed, M
 * failed"). Header-only: each test program is one file, and defines
 * _GNU_SOURCE before its first include (usleep, strtok).
 */
#ifndef VINESYNC_TEST_HARNESS_H
#define VINESYNC_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vinesync.h>

#include "backend_under_test.h"

static int failures_in_test;
static const char *current_test;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "  %s:%d: %s: check failed: %s\n", __FILE__, __LINE__,   \
              current_test, #cond);                                              \
      failures_in_test++;                                                        \
    }                                                                            \
  } while (0)

#define CHECK_STATUS(call, expected)                                             \
  do {                                                                           \
    vs_status got_ = (call);                                                     \
    if (got_ != (expected)) {                                                    \
      fprintf(stderr, "  %s:%d: %s: %s returned %d, expected %d\n", __FILE__,   \
              __LINE__, current_test, #call, (int)got_, (int)(expected));        \
      failures_in_test++;                                                        \
    }                                                                            \
  } while (0)

static inline void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

struct test {
  const char *name;
  void (*run)(void);
};

/* Whether `name` contains one of the comma-separated words of `only`
 * (NULL: every test runs). */
static inline int selected(const char *name, const char *only) {
  if (!only) return 1;
  char words[256];
  snprintf(words, sizeof words, "%s", only);
  for (char *w = strtok(words, ","); w; w = strtok(NULL, ","))
    if (strstr(name, w)) return 1;
  return 0;
}

/* Runs the selected tests under `title`; the exit status for main. */
static inline int run_tests(const char *title, const struct test *tests, size_t n,
                            const char *only) {
  int passed = 0, failed = 0;
  printf("%s\n", title);
  for (size_t i = 0; i < n; i++) {
    if (!selected(tests[i].name, only)) continue;
    current_test = tests[i].name;
    failures_in_test = 0;
    tests[i].run();
    printf("test %s ... %s\n", tests[i].name, failures_in_test ? "FAILED" : "ok");
    if (failures_in_test) failed++; else passed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#endif
