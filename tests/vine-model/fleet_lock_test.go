package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Rounds per process: 4 processes contend for lock1.
const lockRounds = 10

// TestMixedFleetLock: two vine processes, the Go vinesync worker and the
// vinesync command (Rust) take lock1 in turn and bump one counter inside;
// no two are ever inside together and no increment is lost. Once with
// vine's default (empty) prefix, once with Prefix("/vine/sync").
func TestMixedFleetLock(t *testing.T) {
	for _, prefix := range []string{"", "/vine/sync"} {
		t.Run(fmt.Sprintf("prefix=%q", prefix), func(t *testing.T) {
			model, worker, cli := program(t, "VINE_MODEL"), program(t, "VINESYNC_GO_WORKER"), program(t, "VINESYNC_CLI")
			dir := t.TempDir()
			vineEnv := []string{"VINE_PREFIX=" + prefix}
			vinesyncEnv := []string{"VINESYNC_LAYOUT=vine", "VINESYNC_PREFIX=" + prefix}
			rounds := strconv.Itoa(lockRounds)
			started := time.Now()
			procs := []*proc{
				start(t, "vine-model 1", vineEnv, model, "lock", "lock1", rounds, "2", dir),
				start(t, "vine-model 2", vineEnv, model, "lock", "lock1", rounds, "2", dir),
				start(t, "go worker", vinesyncEnv, worker, "lock", "lock1", rounds, "2", "--", model, "bump", dir),
				start(t, "vinesync command", vinesyncEnv, "sh", "-c",
					`for i in $(seq "$1"); do "$2" lock lock1 --ttl 2s -- "$3" bump "$4" || exit 1; done`,
					"sh", rounds, cli, model, dir),
			}
			for _, p := range procs {
				p.wait(2 * time.Minute)
			}
			count, overlaps := readCounter(t, dir)
			want := strconv.Itoa(len(procs) * lockRounds)
			t.Logf("lock1: %s increments (want %s), overlaps: %q, in %v", count, want, overlaps, time.Since(started).Round(time.Millisecond))
			if count != want || overlaps != "" {
				t.Fatalf("lock1 did not exclude: counter %s, want %s; overlaps by pids %q", count, want, overlaps)
			}
		})
	}
}
