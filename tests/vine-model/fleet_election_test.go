package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Candidates' lease TTL in seconds; a handover after kill -9 must take at
// most TTL + 1 s. vine ignores LeaderTTL (its election session has etcd's
// default TTL, 60 s), so the vine candidates of the kill -9 test get this
// TTL through the model's test-only -leader-session-ttl flag.
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
// The vine candidates run with -leader-session-ttl (see electionTTL): a
// real vine 1.5.10 primary killed -9 holds the election for up to 60 s.
func TestMixedFleetElection(t *testing.T) {
	model, worker, cli := program(t, "VINE_MODEL"), program(t, "VINESYNC_GO_WORKER"), program(t, "VINESYNC_CLI")
	const ns = "mixed"
	ttl := "2"
	vinesyncEnv := []string{"VINESYNC_LAYOUT=vine"}

	vineA := start(t, "vine candidate A", nil, model, "-leader-session-ttl", ttl, "elect", ns, "vineA", ttl)
	vineA.expect("elected vineA", 10*time.Second)
	goB := start(t, "Go vinesync candidate B", vinesyncEnv, worker, "elect", ns, "goB", ttl)
	waitMembers(t, ns, 2)
	rustC := start(t, "Rust vinesync candidate C", vinesyncEnv, cli, "elect", "leader", "--ns", ns, "--id", "rustC", "--ttl", ttl+"s", "--once")
	waitMembers(t, ns, 3)
	vineD := start(t, "vine candidate D", nil, model, "-leader-session-ttl", ttl, "elect", ns, "vineD", ttl)
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

// TestVinesyncResignKeepsVinesPrimaryKey: a vinesync primary (the Go
// worker, then the vinesync command) resigns while a vine candidate (with
// vine's own session, no test-only TTL) is queued behind it. vine never
// deletes primary/{ns} and its ListMembers indexes that key's Kvs[0]
// unguarded, so vinesync must leave the key: the vine candidate is
// stopped (SIGSTOP) across the resign, so it cannot write the key itself,
// and vine's ListMembers must still work (the key names the resigned
// member, so nobody is marked primary); once the candidate runs again it
// is elected and ListMembers marks it primary.
func TestVinesyncResignKeepsVinesPrimaryKey(t *testing.T) {
	model, worker, cli := program(t, "VINE_MODEL"), program(t, "VINESYNC_GO_WORKER"), program(t, "VINESYNC_CLI")
	vinesyncEnv := []string{"VINESYNC_LAYOUT=vine"}
	for _, c := range []struct {
		ns, id string
		argv   []string
		want   string
	}{
		{"resign-go", "goR", []string{worker, "elect", "resign-go", "goR", "2"}, "elected goR"},
		{"resign-rust", "rustR", []string{cli, "elect", "leader", "--ns", "resign-rust", "--id", "rustR", "--ttl", "2s", "--once"}, "primary"},
	} {
		primary := start(t, "vinesync primary "+c.id, vinesyncEnv, c.argv...)
		primary.expect(c.want, 10*time.Second)
		vine := start(t, "vine candidate behind "+c.id, nil, model, "elect", c.ns, "vineR", "2")
		waitMembers(t, c.ns, 2)
		checkPrimary(t, c.ns, c.id, 2)
		vine.cmd.Process.Signal(syscall.SIGSTOP)
		primary.cmd.Process.Signal(syscall.SIGTERM)
		primary.wait(10 * time.Second)
		// vine's ListMembers (unguarded Kvs[0]) on the key vinesync left.
		if roles := vineMembers(t, c.ns); len(roles) != 1 || roles["vineR"] != "follow" {
			t.Fatalf("after %s resigned, vine's ListMembers: %v; want vineR alone, a follower", c.id, roles)
		}
		vine.cmd.Process.Signal(syscall.SIGCONT)
		vine.expect("elected vineR", 10*time.Second)
		checkPrimary(t, c.ns, "vineR", 1)
		t.Logf("%s resigned with a vine candidate queued: vine's ListMembers kept working; vineR then primary", c.id)
		vine.cmd.Process.Signal(syscall.SIGTERM)
		vine.wait(10 * time.Second)
	}
}
