package main

// The mixed-fleet tests: vine processes (this directory's vine-model) and
// vinesync processes under the vine layout (the Go worker, the vinesync
// command, the seed's examples with only their imports changed) on one
// real etcd. `make test-vine-layout` builds the programs and runs these
// under the etcd harness (VINESYNC_NODES), on etcd 3.4 and on the newest
// pinned etcd.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// program is the path of a built program, from the variable `name`.
func program(t *testing.T, name string) string {
	t.Helper()
	path := os.Getenv(name)
	if path == "" {
		t.Fatalf("%s is not set: run these tests with `make test-vine-layout`", name)
	}
	return path
}

// line is one line of a process's output and when it was read.
type line struct {
	text string
	at   time.Time
}

// proc is a started process whose stdout lines arrive on a channel.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	lines chan line
	done  chan struct{}
	// exited is when the process was seen to exit (set before done closes).
	exited time.Time
}

// start runs argv with the test's environment plus env.
func start(t *testing.T, name string, env []string, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, lines: make(chan line, 100), done: make(chan struct{})}
	go func() {
		scanner := bufio.NewScanner(out)
		for scanner.Scan() {
			p.lines <- line{scanner.Text(), time.Now()}
		}
		cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	// Whatever happens, nothing this test started outlives it.
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// expect waits up to limit for a line with prefix `want`; returns when it
// was read.
func (p *proc) expect(want string, limit time.Duration) time.Time {
	p.t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l.text, want) {
				return l.at
			}
		case <-p.done:
			p.t.Fatalf("%s exited before printing %q", p.name, want)
		case <-deadline:
			p.t.Fatalf("%s did not print %q within %v", p.name, want, limit)
		}
	}
}

// quiet fails if the process printed a line starting with `unwanted`.
func (p *proc) quiet(unwanted string) {
	p.t.Helper()
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l.text, unwanted) {
				p.t.Fatalf("%s printed %q", p.name, l.text)
			}
		default:
			return
		}
	}
}

// wait waits for the process to exit successfully within limit; returns
// when it exited.
func (p *proc) wait(limit time.Duration) time.Time {
	p.t.Helper()
	select {
	case <-p.done:
		if !p.cmd.ProcessState.Success() {
			p.t.Fatalf("%s failed: %v", p.name, p.cmd.ProcessState)
		}
		return p.exited
	case <-time.After(limit):
		p.t.Fatalf("%s did not finish within %v", p.name, limit)
	}
	return time.Time{}
}

// run runs argv to completion and returns its output.
func run(t *testing.T, env []string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return string(out)
}

func readCounter(t *testing.T, dir string) (count string, overlaps string) {
	text, err := os.ReadFile(filepath.Join(dir, "counter"))
	if err != nil {
		t.Fatal(err)
	}
	overlapText, _ := os.ReadFile(filepath.Join(dir, "overlaps"))
	return strings.TrimSpace(string(text)), strings.TrimSpace(string(overlapText))
}
