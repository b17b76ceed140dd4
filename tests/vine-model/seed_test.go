package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSeedLockExampleWaitsForVine: a vine process holds lock1 for 2 s;
// the seed's lock example (only its imports changed), run with
// VINESYNC_LAYOUT=vine, must wait for it: it can only finish after the
// vine process said it unlocks.
func TestSeedLockExampleWaitsForVine(t *testing.T) {
	model, example := program(t, "VINE_MODEL"), program(t, "SEED_LOCK")
	vine := start(t, "vine holder", nil, model, "hold", "lock1", "2")
	vine.expect("locked", 10*time.Second)
	seed := start(t, "seed lock example", []string{"VINESYNC_LAYOUT=vine"}, example)
	unlocked := vine.expect("unlocked", 10*time.Second)
	finished := seed.wait(30 * time.Second)
	if !finished.After(unlocked) {
		t.Fatalf("the seed's lock example finished before the vine process released lock1")
	}
	vine.wait(10 * time.Second)
}

// TestSeedElectionExampleSeesVine: a vine process is primary of namespace
// "default"; the seed's election example (only its imports changed), run
// with VINESYNC_LAYOUT=vine, lists it as the primary member, itself as a
// follower, and resigns.
func TestSeedElectionExampleSeesVine(t *testing.T) {
	model, example := program(t, "VINE_MODEL"), program(t, "SEED_ELECTION")
	vine := start(t, "vine candidate", nil, model, "elect", "default", "vineSeed", "3")
	vine.expect("elected vineSeed", 10*time.Second)
	out := run(t, []string{"VINESYNC_LAYOUT=vine"}, example)
	t.Logf("seed election example:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "vineSeed") || !strings.Contains(lines[0], "primary") ||
		!strings.Contains(lines[1], "follow") {
		t.Fatalf("want the vine candidate as primary, then the example as follower; got:\n%s", out)
	}
	if roles := vineMembers(t, "default"); len(roles) != 1 || roles["vineSeed"] != "primary" {
		t.Fatalf("after the example resigned, vine's ListMembers: %v", roles)
	}
	vine.cmd.Process.Signal(syscall.SIGTERM)
	vine.wait(10 * time.Second)
}
