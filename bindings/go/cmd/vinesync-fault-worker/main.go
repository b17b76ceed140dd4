// Command vinesync-fault-worker: the Go worker of the fault suite (same
// protocol as the Rust worker, tests/faults/src/bin/vinesync-fault-worker.rs):
//
//	vinesync-fault-worker lock NAME ID ROUNDS TTL_S RESOURCE HOLD_MS
//	vinesync-fault-worker elect NAME NS TTL_S SECONDS
//
// with VINESYNC_NODES and VINESYNC_PREFIX in the environment.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vinesync/vinesync/bindings/go/sync"
)

func say(format string, a ...any) { fmt.Printf(format+"\n", a...) }

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
	for r := 0; r < rounds; r++ {
		g, err := s.LockGuard(context.Background(), id, sync.LockTTL(ttl))
		if err != nil {
			fail(err)
		}
		token := g.FencingToken()
		say("HOLD %d", token)
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
		lost := g.IsLost()
		if !lost && answer != "OK" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			lost = g.WaitLost(ctx) == nil
			cancel()
		}
		if !lost {
			if err := g.Unlock(); errors.Is(err, sync.ErrLost) {
				lost = true
			} else if err != nil {
				fail(err)
			}
		}
		if lost {
			say("LOST %d", token)
		}
		g.Close()
	}
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
	l, err := s.Leader(context.Background(), "faults", sync.LeaderNS(ns), sync.LeaderId(name), sync.LeaderTTL(ttl))
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
				say("WATCHED %s %d", m.Id, time.Now().UnixNano())
			}
		}
	}()
	go func() {
		for primary := range l.Status() {
			if primary {
				say("ELECTED %d", time.Now().UnixNano())
			} else {
				say("DEMOTED %d", time.Now().UnixNano())
			}
		}
	}()
	time.Sleep(seconds)
	say("UNWATCHING %d", time.Now().UnixNano()) // every change before this was expected
	w.Close()
	if err := l.Resign(); err != nil && !errors.Is(err, sync.ErrLost) {
		fail(err)
	}
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
