package sync_test

// Tests of the Go binding, named after the SPEC rules they check. They run
// on memory always and on etcd when VINESYNC_NODES is set (make test runs
// them both ways, the etcd leg under the vinesync-etcd harness).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/memory"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

var onEtcd = os.Getenv("VINESYNC_NODES") != ""

// newSync makes a handle on the backend under test, under the test's prefix.
func newSync(t *testing.T) *sync.Client {
	t.Helper()
	prefix := sync.Prefix(fmt.Sprintf("/gotest/%s/%d", t.Name(), os.Getpid()))
	var s *sync.Client
	if onEtcd {
		s = etcd.NewSync(prefix)
	} else {
		s = memory.NewSync(prefix)
	}
	if err := s.Init(); err != nil {
		t.Fatalf("init: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitWaiters polls (at most 20 s) until lock id has n waiters: on a
// loaded machine a new handle's first Lock, which also grants a lease,
// can take longer than any fixed pause.
func waitWaiters(t *testing.T, s *sync.Client, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := s.LockInfo(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Waiters) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock %q: %d waiters after 20 s, want %d", id, len(info.Waiters), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestString(t *testing.T) {
	s := newSync(t)
	want := "memory"
	if onEtcd {
		want = "etcd"
	}
	if s.String() != want {
		t.Fatalf("String() = %q, want %q", s.String(), want)
	}
}

// L1: 50 goroutines on 4 handles contend for one lock; never two inside.
func TestL1Exclusion50GoroutinesFourHandles(t *testing.T) {
	handles := []*sync.Client{newSync(t), newSync(t), newSync(t), newSync(t)}
	var inside, overlaps int32
	counter := 0
	rounds := 20
	if onEtcd {
		rounds = 4
	}
	var wg gosync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(s *sync.Client) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				g, err := s.LockGuard(context.Background(), "counter", sync.LockTTL(10*time.Second))
				if err != nil {
					t.Errorf("lock: %v", err)
					return
				}
				if atomic.AddInt32(&inside, 1) != 1 {
					atomic.AddInt32(&overlaps, 1)
				}
				counter++
				atomic.AddInt32(&inside, -1)
				if err := g.Unlock(); err != nil {
					t.Errorf("unlock: %v", err)
				}
			}
		}(handles[i%4])
	}
	wg.Wait()
	if overlaps != 0 || counter != 50*rounds {
		t.Fatalf("overlaps %d, counter %d (want %d)", overlaps, counter, 50*rounds)
	}
}

// L2: LockWait running out is vine's ErrLockTimeout.
func TestL2LockWaitIsErrLockTimeout(t *testing.T) {
	a, b := newSync(t), newSync(t)
	if err := a.Lock(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	err := b.Lock(context.Background(), "x", sync.LockWait(300*time.Millisecond))
	if !errors.Is(err, sync.ErrLockTimeout) {
		t.Fatalf("got %v, want ErrLockTimeout", err)
	}
}

// L2: waiters are served in arrival order (each starts once the one before
// it is in the queue; handles in reverse creation order).
func TestL2WaitersServedInArrivalOrder(t *testing.T) {
	const n = 4
	holder := newSync(t)
	handles := make([]*sync.Client, n)
	for i := range handles {
		handles[i] = newSync(t)
	}
	ctx := context.Background()
	first, err := holder.LockGuard(ctx, "fifo", sync.LockTTL(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan int, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int, s *sync.Client) {
			g, err := s.LockGuard(ctx, "fifo", sync.LockTTL(10*time.Second))
			if err != nil {
				errs <- err
				return
			}
			served <- i
			time.Sleep(20 * time.Millisecond)
			errs <- g.Unlock()
		}(i, handles[n-1-i])
		waitWaiters(t, holder, "fifo", i+1)
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if got := <-served; got != i {
			t.Fatalf("served waiter %d as number %d", got, i)
		}
	}
}

// L3: the seed's example: a second Lock on the same Sync waits; Unlock hands over.
func TestL3SeedExampleSameHandle(t *testing.T) {
	s := newSync(t)
	ctx := context.Background()
	if err := s.Lock(ctx, "lock1", sync.LockTTL(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- s.Lock(ctx, "lock1", sync.LockTTL(3*time.Second)) }()
	select {
	case err := <-got:
		t.Fatalf("second Lock returned while held: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := s.Unlock(ctx, "lock1"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, "lock1"); err != nil {
		t.Fatal(err)
	}
}

// L5 + L10: tokens grow; TryLock says ErrWouldBlock while held.
func TestL5L10TokensAndTryLock(t *testing.T) {
	a, b := newSync(t), newSync(t)
	g, err := a.TryLock(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(context.Background(), "x"); !errors.Is(err, sync.ErrWouldBlock) {
		t.Fatalf("got %v, want ErrWouldBlock", err)
	}
	first := g.FencingToken()
	g.Close()
	g2, err := b.LockGuard(context.Background(), "x", sync.LockWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	if g2.FencingToken() <= first {
		t.Fatalf("token %d not above %d", g2.FencingToken(), first)
	}
}

// L7: unlocking what this Sync does not hold is ErrNotLocked.
func TestL7UnlockNotHeld(t *testing.T) {
	s := newSync(t)
	if err := s.Unlock(context.Background(), "never"); !errors.Is(err, sync.ErrNotLocked) {
		t.Fatalf("got %v", err)
	}
}

// L8: ctx cancelled while waiting: the call returns ErrCancelled (and
// context.Canceled) promptly, and its waiter key is gone: the next waiter
// gets the lock as soon as the holder releases.
func TestL8ContextCancelLeavesNoWaiter(t *testing.T) {
	a, b, c := newSync(t), newSync(t), newSync(t)
	if err := a.Lock(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Lock(ctx, "x", sync.LockTTL(60*time.Second)) }()
	waitWaiters(t, a, "x", 1) // cancel a waiter in the queue, not one still granting its lease
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, sync.ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled Lock did not return")
	}
	if err := a.Unlock(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(context.Background(), "x", sync.LockWait(5*time.Second)); err != nil {
		t.Fatalf("next waiter blocked by a cancelled one: %v", err)
	}
}

// E1, E2, E7: Leader returns at once; ListMembers shows it, one primary.
func TestE1E2E7LeaderAndMembers(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	la, err := a.Leader(ctx, "svc", sync.LeaderNS("ns"), sync.LeaderId("first"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer la.(sync.Elected).Close()
	lb, err := b.Leader(ctx, "svc", sync.LeaderNS("ns"), sync.LeaderId("second"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer lb.(sync.Elected).Close()
	ms, err := a.ListMembers(ctx, sync.MemberNS("ns"))
	if err != nil || len(ms) != 2 {
		t.Fatalf("members %v, %v", ms, err)
	}
	if ms[0].Id != "first" || ms[0].Role != sync.Primary || ms[1].Role != sync.Follow {
		t.Fatalf("members %+v %+v", ms[0], ms[1])
	}
	if la.Id() != "first" {
		t.Fatalf("Id() = %q", la.Id())
	}
}

// E3, E4, E6: Status true then false; Resign hands over; Observe follows.
func TestE3E4E6StatusResignObserve(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	la, _ := a.Leader(ctx, "svc", sync.LeaderId("a"), sync.LeaderTTL(60))
	lb, _ := b.Leader(ctx, "svc", sync.LeaderId("b"), sync.LeaderTTL(60))
	defer la.(sync.Elected).Close()
	defer lb.(sync.Elected).Close()
	status := la.Status()
	if v := <-status; !v {
		t.Fatal("first status must be true")
	}
	obs := lb.Observe()
	if r := <-obs; r.Id != "a" {
		t.Fatalf("observe %+v", r)
	}
	if p, err := lb.Primary(); err != nil || p.Id != "a" {
		t.Fatalf("primary %v %v", p, err)
	}
	if err := la.Resign(); err != nil {
		t.Fatal(err)
	}
	if v := <-status; v {
		t.Fatal("status after resign must be false")
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := lb.(sync.Elected).WaitElected(wctx); err != nil {
		t.Fatalf("b not elected after a's resign: %v", err)
	}
	if r := <-obs; r.Id != "b" {
		t.Fatalf("observe %+v", r)
	}
}

// E8: WatchElect reports the members of joins/leaves; Close ends Next.
func TestE8WatchElect(t *testing.T) {
	s := newSync(t)
	ctx := context.Background()
	w, err := s.WatchElect(ctx, sync.WatchNS("ns"))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Leader(ctx, "svc", sync.LeaderNS("ns"), sync.LeaderId("m"), sync.LeaderTTL(10))
	for i := 0; i < 2; i++ { // joined, elected
		m, err := w.Next()
		if err != nil || m.Id != "m" {
			t.Fatalf("event %d: %v %v", i, m, err)
		}
	}
	l.(sync.Elected).Close()
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := w.Next(); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	w.Close()
	w.Close()
	if err := <-done; !errors.Is(err, sync.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// Errors: bad input is ErrInvalidArgument; a closed handle is ErrClosed.
func TestErrorsInvalidAndClosed(t *testing.T) {
	s := newSync(t)
	if err := s.Lock(context.Background(), ""); !errors.Is(err, sync.ErrInvalidArgument) {
		t.Fatalf("empty id: %v", err)
	}
	if err := s.Lock(context.Background(), "x", sync.LockTTL(10*time.Millisecond)); !errors.Is(err, sync.ErrInvalidArgument) {
		t.Fatalf("short TTL: %v", err)
	}
	if err := s.Lock(context.Background(), "x", sync.LockWait(-time.Second)); !errors.Is(err, sync.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "LockWait") {
		t.Fatalf("negative LockWait: %v", err)
	}
	if _, err := s.Leader(context.Background(), "svc", sync.LeaderTTL(-1)); !errors.Is(err, sync.ErrInvalidArgument) {
		t.Fatalf("negative LeaderTTL: %v", err)
	}
	s.Close()
	s.Close()
	if err := s.Lock(context.Background(), "x"); !errors.Is(err, sync.ErrClosed) {
		t.Fatalf("lock on a closed handle: %v", err)
	}
}

// Errors: a NUL byte in a string argument is ErrInvalidArgument naming
// the argument (C would cut the string there: "a\x00b" took lock "a"); a
// password is not echoed.
func TestErrorsNULInAStringIsInvalidArgument(t *testing.T) {
	s, other := newSync(t), newSync(t)
	ctx := context.Background()
	invalid := func(what string, err error, names string) {
		t.Helper()
		if !errors.Is(err, sync.ErrInvalidArgument) || !strings.Contains(err.Error(), names) {
			t.Fatalf("%s: got %v, want ErrInvalidArgument naming %s", what, err, names)
		}
	}
	invalid("Lock", s.Lock(ctx, "a\x00b"), "lock id")
	_, err := s.TryLock(ctx, "a\x00b")
	invalid("TryLock", err, "lock id")
	invalid("Unlock", s.Unlock(ctx, "a\x00b"), "lock id")
	_, err = s.LockInfo(ctx, "a\x00b")
	invalid("LockInfo", err, "lock id")
	_, err = s.Elect(ctx, "svc\x00x")
	invalid("Elect name", err, "leader name")
	_, err = s.Elect(ctx, "svc", sync.LeaderNS("ns\x00y"))
	invalid("LeaderNS", err, "LeaderNS")
	_, err = s.Elect(ctx, "svc", sync.LeaderId("id\x00z"))
	invalid("LeaderId", err, "LeaderId")
	_, err = s.ListMembers(ctx, sync.MemberNS("ns\x00y"))
	invalid("MemberNS", err, "MemberNS")
	_, err = s.Watch(ctx, sync.WatchNS("ns\x00y"))
	invalid("WatchNS", err, "WatchNS")
	invalid("Prefix", s.Init(sync.Prefix("/p\x00q")), "Prefix")
	err = s.Init(sync.Credentials("user", "sec\x00ret"))
	invalid("Password", err, "Password")
	if strings.Contains(err.Error(), "sec") {
		t.Fatalf("the password is echoed: %v", err)
	}
	// Nothing was taken: "a" is free.
	g, err := other.TryLock(ctx, "a")
	if err != nil {
		t.Fatalf("lock a: %v", err)
	}
	_ = g.Unlock()
}

// Durations under a millisecond are rounded up, never read as C's 0 ("no
// limit", "default"): LockWait(500µs) times out, LockTTL(500µs) is below
// the minimum; a LeaderTTL whose milliseconds overflow is refused by name.
func TestSubMillisecondDurationsRoundUp(t *testing.T) {
	s, holder := newSync(t), newSync(t)
	ctx := context.Background()
	if err := holder.Lock(ctx, "held"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Lock(ctx, "held", sync.LockWait(500*time.Microsecond)) }()
	select {
	case err := <-done:
		if err != sync.ErrLockTimeout {
			t.Fatalf("LockWait(500µs): %v, want ErrLockTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LockWait(500µs) waited without limit")
	}
	if err := s.Lock(ctx, "x", sync.LockTTL(500*time.Microsecond)); !errors.Is(err, sync.ErrInvalidArgument) {
		t.Fatalf("LockTTL(500µs): %v, want ErrInvalidArgument", err)
	}
	_, err := s.Elect(ctx, "svc", sync.LeaderTTL(1<<60))
	if !errors.Is(err, sync.ErrInvalidArgument) || !strings.Contains(err.Error(), "1152921504606846976s") {
		t.Fatalf("LeaderTTL(1<<60): %v", err)
	}
}

// A ctx already done before Lock, TryLock or Elect gives ErrCancelled every
// time, on memory as on etcd (a memory call could finish before the token
// fired), and takes nothing.
func TestDoneCtxBeforeTheCallIsCancelled(t *testing.T) {
	s, other := newSync(t), newSync(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 50; i++ {
		if err := s.Lock(done, "x"); !errors.Is(err, sync.ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Lock, round %d: %v", i, err)
		}
		if _, err := s.TryLock(done, "x"); !errors.Is(err, sync.ErrCancelled) {
			t.Fatalf("TryLock, round %d: %v", i, err)
		}
		if _, err := s.Elect(done, "svc"); !errors.Is(err, sync.ErrCancelled) {
			t.Fatalf("Elect, round %d: %v", i, err)
		}
	}
	g, err := other.TryLock(context.Background(), "x")
	if err != nil {
		t.Fatalf("a cancelled Lock took x: %v", err)
	}
	_ = g.Unlock()
	if members, err := other.ListMembers(context.Background()); err != nil || len(members) != 0 {
		t.Fatalf("a cancelled Elect joined: %v %v", members, err)
	}
}

// H2: a release given a ctx that is already done returns at once (nil
// when it finished meanwhile, as on memory, else the ctx's error), and the
// release happens (it used to be skipped when the ctx had fired first: the
// lock stayed held until Close or its TTL).
func TestH2ReleaseWithADoneCtxStillReleases(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	stoppedWaiting := func(err error) bool { return err == nil || errors.Is(err, context.Canceled) }
	becomesFree := func(id string) {
		t.Helper()
		if err := b.Lock(ctx, id, sync.LockWait(5*time.Second)); err != nil {
			t.Fatalf("%s was not released: %v", id, err)
		}
		if err := b.Unlock(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Lock(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(done, "u"); !stoppedWaiting(err) {
		t.Fatalf("Unlock with a done ctx: %v", err)
	}
	becomesFree("u")
	g, err := a.LockGuard(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.UnlockContext(done); !stoppedWaiting(err) {
		t.Fatalf("UnlockContext with a done ctx: %v", err)
	}
	becomesFree("g")
	la, err := a.Elect(ctx, "svc", sync.LeaderId("a"), sync.LeaderTTL(30))
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	wctx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	if err := la.WaitElected(wctx); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Elect(ctx, "svc", sync.LeaderId("b"), sync.LeaderTTL(30))
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	if err := la.ResignContext(done); !stoppedWaiting(err) {
		t.Fatalf("ResignContext with a done ctx: %v", err)
	}
	if err := lb.WaitElected(wctx); err != nil {
		t.Fatalf("the next candidate was not elected: %v", err)
	}
}

// A nil *Client or a zero Client{} (not made by NewSync) is bad input: every
// method says so (ErrInvalidArgument) instead of dereferencing nil.
func TestNilAndZeroValueSyncAreErrorsNotPanics(t *testing.T) {
	ctx := context.Background()
	for name, s := range map[string]*sync.Client{"nil": nil, "zero value": {}} {
		t.Run(name, func(t *testing.T) {
			errs := map[string]error{"Init": s.Init(), "Lock": s.Lock(ctx, "x"), "Unlock": s.Unlock(ctx, "x")}
			_, errs["LockGuard"] = s.LockGuard(ctx, "x")
			_, errs["TryLock"] = s.TryLock(ctx, "x")
			_, errs["ListMembers"] = s.ListMembers(ctx)
			_, errs["LockInfo"] = s.LockInfo(ctx, "x")
			_, errs["Leader"] = s.Leader(ctx, "e")
			_, errs["WatchElect"] = s.WatchElect(ctx)
			for method, err := range errs {
				if !errors.Is(err, sync.ErrInvalidArgument) || !strings.Contains(err.Error(), "NewSync") {
					t.Errorf("%s on a %s Sync: %v, want ErrInvalidArgument naming NewSync", method, name, err)
				}
			}
			if o := s.Options(); o.Prefix != "" || len(o.Nodes) != 0 {
				t.Errorf("Options of a %s Sync: %+v, want the zero Options", name, o)
			}
			_ = s.String()
			s.Close()
		})
	}
}
