package sync_test

// SPEC H6 (garbage collection): finalizers never release a lock or a
// candidacy the program can still reach — through a Sync, a guard or a
// leader. Each test drops references, runs runtime.GC in a loop and checks
// the distributed state from another Sync.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"runtime"
	gosync "sync"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/memory"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

// collect runs the garbage collector and the finalizers it queues.
func collect() {
	for i := 0; i < 10; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

// collectUntilOrphans runs GC rounds until s counts n orphans (finalizers
// run on their own goroutine, late on a loaded machine), for at most 10 s;
// returns the last count.
func collectUntilOrphans(s *sync.Client, n int) int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		collect()
		got := sync.Orphans(s)
		if got == n || time.Now().After(deadline) {
			return got
		}
	}
}

// unmanagedSync is a Sync under the test's prefix that the test does not
// keep reachable (newSync's cleanup would).
func unmanagedSync(t *testing.T) *sync.Client {
	prefix := sync.Prefix(fmt.Sprintf("/gotest/%s/%d", t.Name(), os.Getpid()))
	if onEtcd {
		return etcd.NewSync(prefix)
	}
	return memory.NewSync(prefix)
}

func members(t *testing.T, s *sync.Client) int {
	t.Helper()
	ms, err := s.ListMembers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// A leader whose Sync is unreachable keeps its Sync, and so its candidacy.
func TestH6LeaderKeepsItsUnreachableSync(t *testing.T) {
	observer := newSync(t)
	l := func() sync.Leader {
		l, err := unmanagedSync(t).Leader(context.Background(), "svc", sync.LeaderTTL(10))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}()
	collect()
	if n := members(t, observer); n != 1 {
		t.Fatalf("members after GC: %d, want 1 (the candidacy of a live leader ended)", n)
	}
	if err := l.Resign(); err != nil {
		t.Fatalf("resign after GC: %v", err)
	}
	l.(sync.Elected).Close()
}

// A guard whose Sync is unreachable keeps its lock.
func TestH6GuardKeepsItsUnreachableSync(t *testing.T) {
	other := newSync(t)
	g := func() *sync.Guard {
		g, err := unmanagedSync(t).LockGuard(context.Background(), "x")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}()
	collect()
	if _, err := other.TryLock(context.Background(), "x"); !errors.Is(err, sync.ErrWouldBlock) {
		t.Fatalf("TryLock after GC: %v, want ErrWouldBlock (a live guard's lock was released)", err)
	}
	if err := g.Unlock(); err != nil {
		t.Fatalf("unlock after GC: %v", err)
	}
}

// An unreachable leader of a reachable Sync stays a candidate until the
// Sync closes (vine never resigns what the program did not).
func TestH6UnreachableLeaderOfOpenSyncStaysCandidate(t *testing.T) {
	s, observer := newSync(t), newSync(t)
	func() {
		if _, err := s.Leader(context.Background(), "svc", sync.LeaderTTL(10)); err != nil {
			t.Fatal(err)
		}
	}()
	if n := collectUntilOrphans(s, 1); n != 1 {
		t.Fatalf("the leader's finalizer did not run (orphans %d): the check below would prove nothing", n)
	}
	if n := members(t, observer); n != 1 {
		t.Fatalf("members after GC: %d, want 1", n)
	}
	s.Close()
	if n := members(t, observer); n != 0 {
		t.Fatalf("members after Close: %d, want 0", n)
	}
}

// A resigned leader that becomes unreachable is freed at once, not kept
// until its Sync closes: vine's Leader has no Close, and a Leader, Resign,
// drop loop must not pile up native handles. (One leader still standing
// is kept, which shows the finalizers ran.)
func TestH6ResignedUnreachableLeaderIsFreedAtOnce(t *testing.T) {
	s := newSync(t)
	ctx := context.Background()
	func() {
		for i := 0; i < 50; i++ {
			l, err := s.Leader(ctx, "svc", sync.LeaderTTL(10))
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Resign(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Leader(ctx, "standing", sync.LeaderTTL(10)); err != nil {
			t.Fatal(err)
		}
	}()
	if n := collectUntilOrphans(s, 1); n != 1 {
		t.Fatalf("orphans %d, want 1 (the standing leader): resigned leaders are kept until Close", n)
	}
}

// A guard whose lock the Sync's Unlock(id) released holds nothing: once
// unreachable it is freed at once, not kept until Close.
func TestH6GuardReleasedByIdIsFreedAtOnce(t *testing.T) {
	s := newSync(t)
	ctx := context.Background()
	func() {
		for i := 0; i < 50; i++ {
			if _, err := s.LockGuard(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			if err := s.Unlock(ctx, "x"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.LockGuard(ctx, "standing"); err != nil {
			t.Fatal(err)
		}
	}()
	collectUntilOrphans(s, 1)
	collect() // every finalizer has run by now, not only the first
	if n := sync.Orphans(s); n != 1 {
		t.Fatalf("orphans %d, want 1 (the standing guard): guards released by Unlock(id) are kept until Close", n)
	}
	if err := s.Unlock(ctx, "standing"); err != nil {
		t.Fatalf("the unreachable standing guard's lock, unlocked by id: %v", err)
	}
}

// Status channels nobody reads do not keep goroutines once the candidacy
// is over (each blocked on a change it could not deliver).
func TestStatusGoroutinesEndWithTheCandidacy(t *testing.T) {
	s := newSync(t)
	ctx := context.Background()
	l, err := s.Elect(ctx, "svc", sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitElected(ctx); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		_ = l.Status() // true is buffered; the false of the resign waits
	}
	if err := l.Resign(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after the candidacy ended, %d before the Status calls", n, before)
	}
}

// A Status taken once the candidacy is over (Resign returned, or its Sync
// closed) never says true: a vine program doing <-Status() must not act
// as primary. (The last change the native stream gave could still be
// true when the end came.)
func TestStatusAfterTheEndIsNeverTrue(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 20; round++ {
		for _, ending := range []string{"resign", "close"} {
			s := newSync(t)
			l, err := s.Elect(ctx, "svc", sync.LeaderTTL(10))
			if err != nil {
				t.Fatal(err)
			}
			if v := <-l.Status(); !v {
				t.Fatal("not elected")
			}
			if ending == "resign" {
				if err := l.Resign(); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Close()
			}
			for v := range l.Status() {
				if v {
					t.Fatalf("round %d, after %s: Status said true", round, ending)
				}
			}
			s.Close()
		}
	}
}

// An unreachable guard of a reachable Sync keeps its lock; the Sync can
// still unlock it by id.
func TestH6UnreachableGuardOfOpenSyncKeepsLock(t *testing.T) {
	s, other := newSync(t), newSync(t)
	ctx := context.Background()
	func() {
		if _, err := s.LockGuard(ctx, "x"); err != nil {
			t.Fatal(err)
		}
	}()
	if n := collectUntilOrphans(s, 1); n != 1 {
		t.Fatalf("the guard's finalizer did not run (orphans %d)", n)
	}
	if _, err := other.TryLock(ctx, "x"); !errors.Is(err, sync.ErrWouldBlock) {
		t.Fatalf("TryLock after GC: %v, want ErrWouldBlock", err)
	}
	if err := s.Unlock(ctx, "x"); err != nil {
		t.Fatalf("unlock by id after GC: %v", err)
	}
	g, err := other.TryLock(ctx, "x")
	if err != nil {
		t.Fatalf("TryLock after unlock: %v", err)
	}
	g.Close()
}

// logs captures the standard logger's output for the test.
type logs struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Only a Sync nothing can reach any more releases what it holds, and says so.
func TestH6UnreachableSyncReleasesAndLogs(t *testing.T) {
	captured := &logs{}
	log.SetOutput(captured)
	defer log.SetOutput(os.Stderr)
	other := newSync(t)
	func() {
		if err := unmanagedSync(t).Lock(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
	}()
	collect()
	if err := other.Lock(context.Background(), "x", sync.LockWait(5*time.Second)); err != nil {
		t.Fatalf("the lock of an unreachable Sync was not released: %v", err)
	}
	if got := captured.String(); !bytes.Contains([]byte(got), []byte("never closed")) {
		t.Fatalf("no log line about the released lock: %q", got)
	}
}

// watchLeader reads a leader's Status and Observe channels once each (each
// starts a goroutine that lasts as long as the candidacy) and drops them.
func watchLeader(t *testing.T, l sync.Leader) {
	t.Helper()
	if elected := <-l.Status(); !elected {
		t.Fatal("Status: want true (the only candidate)")
	}
	if primary := <-l.Observe(); primary.Id != l.Id() {
		t.Fatalf("Observe: primary %q, want %q", primary.Id, l.Id())
	}
}

// The goroutines behind Status and Observe do not keep an unreachable
// leader reachable: it is handed to its open Sync as any other leader is.
func TestH6UnreachableLeaderWithStatusAndObserveIsOrphaned(t *testing.T) {
	s, observer := newSync(t), newSync(t)
	func() {
		l, err := s.Leader(context.Background(), "svc", sync.LeaderTTL(10))
		if err != nil {
			t.Fatal(err)
		}
		watchLeader(t, l)
	}()
	if n := collectUntilOrphans(s, 1); n != 1 {
		t.Fatalf("orphans %d, want 1: the Status/Observe goroutines kept the leader reachable", n)
	}
	if n := members(t, observer); n != 1 {
		t.Fatalf("members after GC: %d, want 1 (the Sync is open)", n)
	}
	s.Close()
	if n := members(t, observer); n != 0 {
		t.Fatalf("members after Close: %d, want 0", n)
	}
}

// Nor do they keep an unreachable Sync from releasing (and saying so).
func TestH6UnreachableSyncWithAWatchedLeaderReleasesAndLogs(t *testing.T) {
	captured := &logs{}
	log.SetOutput(captured)
	defer log.SetOutput(os.Stderr)
	observer := newSync(t)
	func() {
		l, err := unmanagedSync(t).Leader(context.Background(), "svc", sync.LeaderTTL(10))
		if err != nil {
			t.Fatal(err)
		}
		watchLeader(t, l)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for members(t, observer) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the candidacy of an unreachable Sync was not released within 10 s")
		}
		collect()
	}
	if got := captured.String(); !bytes.Contains([]byte(got), []byte("never closed")) {
		t.Fatalf("no log line about the released candidacy: %q", got)
	}
}
