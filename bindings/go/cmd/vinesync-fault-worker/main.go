// Command vinesync-fault-worker: the Go worker of the fault suite (same
// protocol as the Rust worker, tests/faults/src/bin/vinesync-fault-worker.rs):
//
//	vinesync-fault-worker lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS
//	vinesync-fault-worker elect NAME NS TTL_S SECONDS
//
// with VINESYNC_NODES and VINESYNC_PREFIX in the environment. Events are
// stamped with CLOCK_MONOTONIC nanoseconds (the suite's clock). A candidate
// campaigns until a line (STOP) arrives on stdin, or for at most SECONDS.
package main

// #include <time.h>
import "C"

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"github.com/vinesync/vinesync/bindings/go/sync"
)

func say(format string, a ...any) { fmt.Printf(format+"\n", a...) }

// now reads CLOCK_MONOTONIC, shared by every process on the host (Go's own
// monotonic clock is not exposed as a number).
func now() int64 {
	var ts C.struct_timespec
	C.clock_gettime(C.CLOCK_MONOTONIC, &ts)
	return int64(ts.tv_sec)*1_000_000_000 + int64(ts.tv_nsec)
}

// idle stays alive until the suite closes stdin: it checks for leaks now.
func idle() {
	say("IDLE %d", now())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "vinesync-fault-worker (go):", err)
	os.Exit(1)
}

func lockRounds(id string, rounds int, ttl time.Duration, resource string, hold time.Duration) {
	s := sync.New("etcd")
	if err := s.Init(); err != nil {
		fail(err)
	}
	conn, err := net.Dial("tcp", resource)
	if err != nil {
		fail(err)
	}
	reader := bufio.NewReader(conn)
	ask := func(request string) string {
		if _, err := fmt.Fprintf(conn, "%s\n", request); err != nil {
			fail(err)
		}
		line, err := reader.ReadString('\n')
		if err != nil {
			fail(err)
		}
		return strings.TrimSpace(line)
	}
	shortWait := 30 * time.Millisecond
	if v, err := strconv.Atoi(os.Getenv("VINESYNC_FAULTS_SHORT_WAIT_MS")); err == nil {
		shortWait = time.Duration(v) * time.Millisecond
	}
	for r := 0; r < rounds; r++ {
		// A short wait that often runs out first: its waiter key must go (L8).
		// (LockWait(0) waits without limit.)
		g, err := s.LockGuard(context.Background(), id, sync.LockTTL(ttl), sync.LockWait(shortWait))
		if errors.Is(err, sync.ErrLockTimeout) {
			say("GAVE-UP %d", now())
			g, err = s.LockGuard(context.Background(), id, sync.LockTTL(ttl))
		}
		if err != nil {
			fail(err)
		}
		token := g.FencingToken()
		say("HOLD %d %d", token, now())
		answer := ask(fmt.Sprintf("READ %d", token))
		if strings.HasPrefix(answer, "VALUE ") {
			value, err := strconv.ParseUint(strings.TrimPrefix(answer, "VALUE "), 10, 64)
			if err != nil {
				fail(err)
			}
			time.Sleep(hold) // the critical section (a pause lands here)
			answer = ask(fmt.Sprintf("WRITE %d %d", token, value+1))
		}
		if answer == "OK" {
			say("ACK %d", token)
		} else {
			say("STALE %d", token)
		}
		if g.IsLost() {
			say("LOST %d %d", token, now())
		} else {
			say("RELEASE %d %d", token, now())
			if err := g.Unlock(); errors.Is(err, sync.ErrLost) {
				say("LOST %d %d", token, now())
			} else if err != nil {
				fail(err)
			} else {
				say("RELEASED %d %d", token, now())
			}
		}
		g.Close()
	}
	conn.Close()
	idle()
	s.Close()
}

func elect(name, ns string, ttl int64, seconds time.Duration) {
	s := sync.New("etcd")
	if err := s.Init(); err != nil {
		fail(err)
	}
	w, err := s.WatchElect(context.Background(), sync.WatchNS(ns))
	if err != nil {
		fail(err)
	}
	say("WATCHING %d", now())
	join := func() (sync.Leader, error) {
		return s.Leader(context.Background(), "faults", sync.LeaderNS(ns), sync.LeaderId(name), sync.LeaderTTL(ttl))
	}
	resign := func(l sync.Leader) {
		if err := l.Resign(); err != nil && !errors.Is(err, sync.ErrLost) {
			fail(err)
		}
	}
	first, err := join()
	if err != nil {
		fail(err)
	}
	go func() {
		for {
			m, err := w.Next()
			if err != nil {
				return
			}
			if m.Role == sync.Primary {
				say("WATCHED %s %d", m.Id, now())
			}
		}
	}()
	// The candidacy now running. Once stopped, no new candidacy is joined,
	// and one the campaign goroutine was joining meanwhile is resigned
	// there, never kept (a join is not cancelled: a cancelled write leaves
	// its key to a background delete, which the leak check could see).
	var mu stdsync.Mutex
	current, stopped := first, false
	campaignDone := make(chan struct{})
	go func() {
		defer close(campaignDone)
		for {
			mu.Lock()
			l := current
			mu.Unlock()
			for primary := range l.Status() {
				if primary {
					say("ELECTED %d", now())
				} else {
					say("DEMOTED %d", now())
				}
			}
			// The candidacy ended (its lease was lost, or it was resigned):
			// a real service runs again unless it is stopping.
			mu.Lock()
			stopping := stopped
			mu.Unlock()
			if stopping {
				return
			}
			next, err := join()
			if err != nil {
				fail(err)
			}
			mu.Lock()
			keep := !stopped
			if keep {
				current = next
			}
			mu.Unlock()
			if !keep {
				resign(next)
				return
			}
		}
	}()
	// The suite says when to stop (a line on stdin); seconds is the limit.
	toldToStop := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		close(toldToStop)
	}()
	select {
	case <-toldToStop:
	case <-time.After(seconds):
	}
	mu.Lock()
	stopped = true
	last := current
	mu.Unlock()
	say("UNWATCHING %d", now()) // every change before this was expected
	w.Close()
	resign(last)
	// A candidacy joined meanwhile is resigned before IDLE (waited for up
	// to 30 s: a join blocks while etcd has no quorum).
	select {
	case <-campaignDone:
	case <-time.After(30 * time.Second):
	}
	idle()
	s.Close()
}

func main() {
	a := os.Args[1:]
	switch {
	case len(a) == 7 && a[0] == "lock":
		rounds, _ := strconv.Atoi(a[3])
		ttl, _ := strconv.Atoi(a[4])
		hold, _ := strconv.Atoi(a[6])
		lockRounds(a[2], rounds, time.Duration(ttl)*time.Second, a[5], time.Duration(hold)*time.Millisecond)
	case len(a) == 5 && a[0] == "elect":
		ttl, _ := strconv.ParseInt(a[3], 10, 64)
		seconds, _ := strconv.ParseFloat(a[4], 64)
		elect(a[1], a[2], ttl, time.Duration(seconds*float64(time.Second)))
	default:
		fmt.Fprintln(os.Stderr, "usage: vinesync-fault-worker lock|elect ...")
		os.Exit(2)
	}
	say("DONE")
}
