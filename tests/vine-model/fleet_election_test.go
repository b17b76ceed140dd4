package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Candidates' lease TTL in seconds; a handover after kill -9 must take at
// most TTL + 1 s.
const (
	electionTTL = 2
	handoverMax = electionTTL*time.Second + time.Second
)

// vineMembers is the vine model's ListMembers: id -> role.
func vineMembers(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := run(t, nil, program(t, "VINE_MODEL"), "members", ns)
	roles := map[string]string{}
	for _, text := range strings.Split(strings.TrimSpace(out), "\n") {
		if text == "" {
			continue
		}
		var m Member
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			t.Fatalf("members output %q: %v", text, err)
		}
		roles[m.Id] = m.Role
	}
	return roles
}

// vinesyncMembers is vinesync's list_members (the vinesync command): id -> role.
func vinesyncMembers(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := run(t, []string{"VINESYNC_LAYOUT=vine"}, program(t, "VINESYNC_CLI"), "members", "--ns", ns, "--json")
	roles := map[string]string{}
	for _, text := range strings.Split(strings.TrimSpace(out), "\n") {
		if text == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			t.Fatalf("vinesync members output %q: %v", text, err)
		}
		roles[m["id"].(string)], _ = m["role"].(string)
	}
	return roles
}

// primaries lists the ids whose role is primary.
func primaries(roles map[string]string) []string {
	var ids []string
	for id, role := range roles {
		if role == "primary" {
			ids = append(ids, id)
		}
	}
	return ids
}

// waitMembers polls the vine model's view until it has n members.
func waitMembers(t *testing.T, ns string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(vineMembers(t, ns)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s: %v, want %d members", ns, vineMembers(t, ns), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkPrimary: both views agree that `id` is the one primary.
func checkPrimary(t *testing.T, ns, id string, members int) {
	t.Helper()
	vine, ours := vineMembers(t, ns), vinesyncMembers(t, ns)
	if p := primaries(vine); len(vine) != members || len(p) != 1 || p[0] != id {
		t.Fatalf("vine's ListMembers: %v; want %d members, %s the one primary", vine, members, id)
	}
	if p := primaries(ours); len(ours) != members || len(p) != 1 || p[0] != id {
		t.Fatalf("vinesync's list_members: %v; want %d members, %s the one primary", ours, members, id)
	}
}

// TestMixedFleetElection: in one namespace, in campaign order, a vine
// candidate, a Go vinesync candidate, a Rust vinesync candidate (the
// vinesync command) and another vine candidate. Each primary in turn is
// killed with SIGKILL; the next one must take over within TTL + 1 s, and
// vine's ListMembers and vinesync's must both show exactly it as primary.
func TestMixedFleetElection(t *testing.T) {
	model, worker, cli := program(t, "VINE_MODEL"), program(t, "VINESYNC_GO_WORKER"), program(t, "VINESYNC_CLI")
	const ns = "mixed"
	ttl := "2"
	vinesyncEnv := []string{"VINESYNC_LAYOUT=vine"}

	vineA := start(t, "vine candidate A", nil, model, "elect", ns, "vineA", ttl)
	vineA.expect("elected vineA", 10*time.Second)
	goB := start(t, "Go vinesync candidate B", vinesyncEnv, worker, "elect", ns, "goB", ttl)
	waitMembers(t, ns, 2)
	rustC := start(t, "Rust vinesync candidate C", vinesyncEnv, cli, "elect", "leader", "--ns", ns, "--id", "rustC", "--ttl", ttl+"s", "--once")
	waitMembers(t, ns, 3)
	vineD := start(t, "vine candidate D", nil, model, "elect", ns, "vineD", ttl)
	waitMembers(t, ns, 4)
	checkPrimary(t, ns, "vineA", 4)

	handover := func(from *proc, to *proc, want string) {
		t.Helper()
		killed := time.Now()
		from.cmd.Process.Signal(syscall.SIGKILL)
		took := to.expect(want, handoverMax+5*time.Second).Sub(killed)
		t.Logf("kill -9 %s -> %s elected after %v (limit %v)", from.name, to.name, took.Round(time.Millisecond), handoverMax)
		if took > handoverMax {
			t.Fatalf("handover from %s to %s took %v, more than TTL + 1 s", from.name, to.name, took)
		}
	}
	handover(vineA, goB, "elected goB")
	for _, p := range []*proc{rustC, vineD} {
		p.quiet("elected")
		p.quiet("primary")
	}
	checkPrimary(t, ns, "goB", 3)
	handover(goB, rustC, "primary")
	vineD.quiet("elected")
	checkPrimary(t, ns, "rustC", 2)
	handover(rustC, vineD, "elected vineD")
	checkPrimary(t, ns, "vineD", 1)
	vineD.cmd.Process.Signal(syscall.SIGTERM)
	vineD.wait(10 * time.Second)
}
