/*
 * C rows of `make bench`: vinesync lock+unlock through the C ABI on the
 * memory store and (when VINESYNC_NODES is set) on etcd. Prints one JSON
 * line per measurement for vinesync-bench --external: section, language,
 * kind, per-operation samples in nanoseconds, total time, operations.
 * BENCH_QUICK=1 measures less.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vinesync.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int lock_unlock(vs_sync *s) {
  vs_guard *g = NULL;
  vs_error *err = NULL;
  if (vs_lock(s, "bench", 60000, 0, NULL, &g, &err) != VS_OK) {
    fprintf(stderr, "bench.c: lock: %s\n", vs_error_message(err));
    vs_error_free(&err);
    return -1;
  }
  vs_status st = vs_guard_unlock(g, NULL, &err);
  vs_guard_free(&g);
  if (st != VS_OK) {
    fprintf(stderr, "bench.c: unlock: %s\n", vs_error_message(err));
    vs_error_free(&err);
    return -1;
  }
  return 0;
}

static void emit(const char *section, const double *samples, int n, double total, long ops) {
  printf("{\"section\":\"%s\",\"language\":\"c\",\"kind\":\"lock+unlock\",\"samples_ns\":[", section);
  for (int i = 0; i < n; i++) printf("%s%.1f", i ? "," : "", samples[i]);
  printf("],\"total_ns\":%.1f,\"ops\":%ld}\n", total, ops);
  fflush(stdout);
}

static vs_sync *open_sync(int etcd) {
  vs_options *o = NULL;
  vs_sync *s = NULL;
  vs_error *err = NULL;
  vs_status st = vs_options_new(&o, &err);
  if (st == VS_OK) st = vs_options_set_prefix(o, "/bench/c", &err);
  if (st == VS_OK && etcd) st = vs_options_set_nodes(o, getenv("VINESYNC_NODES"), &err);
  if (st == VS_OK) st = etcd ? vs_sync_new_etcd(o, NULL, &s, &err) : vs_sync_new_memory(o, &s, &err);
  if (st != VS_OK) {
    fprintf(stderr, "bench.c: connect: %s\n", err ? vs_error_message(err) : "?");
    vs_error_free(&err);
  }
  vs_options_free(&o);
  return s;
}

int main(void) {
  int quick = getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "1") == 0;
  int batch = quick ? 200 : 2000, batches = quick ? 10 : 50, etcd_ops = quick ? 50 : 500;
  /* One short round of the interleaved etcd ratio (make bench alternates
     this program with the Rust floor): the etcd row only, BENCH_ETCD_OPS ops. */
  int etcd_only = getenv("BENCH_ETCD_OPS") != NULL;
  if (etcd_only) etcd_ops = atoi(getenv("BENCH_ETCD_OPS"));
  if (etcd_ops < 1) etcd_ops = 1;
  double *samples = malloc(sizeof(double) * (size_t)(etcd_ops > batches ? etcd_ops : batches));
  if (!samples) return 1;

  double total = 0;
  if (!etcd_only) {
    vs_sync *memory = open_sync(0);
    if (!memory) return 1;
    for (int i = 0; i < batch; i++)
      if (lock_unlock(memory)) return 1;
    for (int b = 0; b < batches; b++) {
      double t = now_ns();
      for (int i = 0; i < batch; i++)
        if (lock_unlock(memory)) return 1;
      double elapsed = now_ns() - t;
      samples[b] = elapsed / batch;
      total += elapsed;
    }
    emit("memory", samples, batches, total, (long)batch * batches);
    vs_sync_free(&memory);
  }

  const char *nodes = getenv("VINESYNC_NODES");
  if (nodes && *nodes) {
    vs_sync *etcd = open_sync(1);
    if (!etcd) return 1;
    for (int i = 0; i < 5; i++)
      if (lock_unlock(etcd)) return 1;
    total = 0;
    for (int i = 0; i < etcd_ops; i++) {
      double t = now_ns();
      if (lock_unlock(etcd)) return 1;
      samples[i] = now_ns() - t;
      total += samples[i];
    }
    emit("etcd", samples, etcd_ops, total, etcd_ops);
    vs_sync_free(&etcd);
  } else {
    fprintf(stderr, "bench.c: VINESYNC_NODES is not set: etcd row skipped\n");
  }
  free(samples);
  return 0;
}
