package sync_test

// SPEC H1 (close): closing a Sync, leader, guard or watcher while another
// goroutine is blocked in it wakes that call with ErrClosed — no crash, no
// use-after-free — and calls after close return ErrClosed. These tests use
// only the API the first release had, so they also ran against it (where
// the Lock and WaitElected ones crashed with SIGSEGV).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

// returnsWithin waits for errc and fails the test if it takes longer.
func returnsWithin(t *testing.T, errc <-chan error, d time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return nil
	}
}

// closeWithin runs close and fails the test if it has not returned after d
// (a Close that waits for a call it failed to wake would hang).
func closeWithin(t *testing.T, d time.Duration, what string, close func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { close(); done <- nil }()
	returnsWithin(t, done, d, what)
}

func wantClosed(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, sync.ErrClosed) {
		t.Fatalf("%s: got %v, want ErrClosed", what, err)
	}
}

func TestH1CloseSyncDuringBlockedLock(t *testing.T) {
	a, b := newSync(t), newSync(t)
	if err := a.Lock(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- b.Lock(context.Background(), "x") }()
	waitWaiters(t, a, "x", 1) // blocked in the queue, not still granting its lease
	closeWithin(t, 5*time.Second, "Close of a Sync with a blocked Lock", b.Close)
	wantClosed(t, returnsWithin(t, errc, 5*time.Second, "Lock blocked during Close"), "blocked Lock")
	wantClosed(t, b.Lock(context.Background(), "y"), "Lock after Close")
	wantClosed(t, b.Unlock(context.Background(), "x"), "Unlock after Close")
	if _, err := b.ListMembers(context.Background()); !errors.Is(err, sync.ErrClosed) {
		t.Fatalf("ListMembers after Close: %v", err)
	}
}

// Init during a blocked Lock must neither crash nor drop the waiter: it
// reconfigures in place (new calls use the new prefix).
func TestH1InitDuringBlockedLock(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	if err := a.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	// Longer than the 20 s poll for the queue below: a slow set-up fails
	// there, with a message that says so.
	go func() { errc <- b.Lock(ctx, "x", sync.LockWait(30*time.Second)) }()
	waitWaiters(t, a, "x", 1) // queued under the original prefix
	original := b.Options().Prefix
	if err := b.Init(sync.Prefix(original + "/elsewhere")); err != nil {
		t.Fatalf("Init changing the prefix of a Sync in use: %v", err)
	}
	if err := a.Unlock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := returnsWithin(t, errc, 10*time.Second, "Lock after Init"); err != nil {
		t.Fatalf("the waiter was dropped by Init: %v", err)
	}
	if _, err := a.TryLock(ctx, "x"); !errors.Is(err, sync.ErrWouldBlock) {
		t.Fatalf("the waiter's lock is not held after Init: %v", err)
	}
	// Unlock(id) works under the prefix the lock was taken with (core L7)
	if err := b.Init(sync.Prefix(original)); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx, "x"); err != nil {
		t.Fatalf("unlock of the waiter's lock: %v", err)
	}
}

func TestH1CloseLeaderDuringWaitElected(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	la, err := a.Leader(ctx, "svc", sync.LeaderId("a"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer la.(sync.Elected).Close()
	lb, err := b.Leader(ctx, "svc", sync.LeaderId("b"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- lb.(sync.Elected).WaitElected(ctx) }()
	time.Sleep(300 * time.Millisecond)
	closeWithin(t, 5*time.Second, "Close of a leader in WaitElected", lb.(sync.Elected).Close)
	wantClosed(t, returnsWithin(t, errc, 5*time.Second, "WaitElected during leader Close"), "WaitElected")
	wantClosed(t, lb.(sync.Elected).WaitElected(ctx), "WaitElected after Close")
	wantClosed(t, lb.Resign(), "Resign after Close")
	if _, err := lb.Primary(); !errors.Is(err, sync.ErrClosed) {
		t.Fatalf("Primary after Close: %v", err)
	}
}

func TestH1CloseSyncDuringWaitElected(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	la, err := a.Leader(ctx, "svc", sync.LeaderId("a"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer la.(sync.Elected).Close()
	lb, err := b.Leader(ctx, "svc", sync.LeaderId("b"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer lb.(sync.Elected).Close()
	errc := make(chan error, 1)
	go func() { errc <- lb.(sync.Elected).WaitElected(ctx) }()
	time.Sleep(300 * time.Millisecond)
	closeWithin(t, 5*time.Second, "Close of a Sync whose leader is in WaitElected", b.Close)
	wantClosed(t, returnsWithin(t, errc, 5*time.Second, "WaitElected during Sync Close"), "WaitElected")
}

func TestH1CloseDuringNext(t *testing.T) {
	for _, closeSync := range []bool{false, true} {
		s := newSync(t)
		w, err := s.WatchElect(context.Background(), sync.WatchNS("quiet"))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := w.Next()
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond)
		if closeSync {
			closeWithin(t, 5*time.Second, "Close of a Sync whose watcher is in Next", s.Close)
		} else {
			closeWithin(t, 5*time.Second, "Close of a watcher in Next", w.Close)
		}
		wantClosed(t, returnsWithin(t, errc, 5*time.Second, "Next during Close"), "Next")
		_, err = w.Next()
		wantClosed(t, err, "Next after Close")
		w.Close()
	}
}

// WaitLost does not hold up IsLost or Unlock; Unlock wakes it.
func TestH1GuardWaitLostDuringUnlock(t *testing.T) {
	s := newSync(t)
	g, err := s.LockGuard(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- g.WaitLost(context.Background()) }()
	time.Sleep(200 * time.Millisecond)
	lost := make(chan bool, 1)
	go func() { lost <- g.IsLost() }()
	select {
	case v := <-lost:
		if v {
			t.Fatal("IsLost true on a held lock")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("IsLost blocked behind WaitLost")
	}
	unlocked := make(chan error, 1)
	go func() { unlocked <- g.Unlock() }()
	if err := returnsWithin(t, unlocked, 5*time.Second, "Unlock during WaitLost"); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, returnsWithin(t, errc, 5*time.Second, "WaitLost during Unlock"), "WaitLost")
	if g.IsLost() {
		t.Fatal("IsLost true after a normal Unlock")
	}
	if err := g.Unlock(); !errors.Is(err, sync.ErrNotLocked) {
		t.Fatalf("second Unlock: %v", err)
	}
}

// Many goroutines in every kind of call while the Sync closes: each call
// returns (nil or an error), nothing crashes, Close returns.
func TestH1CloseUnderLoad(t *testing.T) {
	for round := 0; round < 5; round++ {
		holder, s := newSync(t), newSync(t)
		ctx := context.Background()
		busy := fmt.Sprintf("busy%d", round)
		if err := holder.Lock(ctx, busy); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 40)
		for i := 0; i < 10; i++ {
			go func() { done <- s.Lock(ctx, busy) }()
			go func() {
				l, err := s.Leader(ctx, "svc", sync.LeaderTTL(10))
				if err == nil {
					err = l.(sync.Elected).WaitElected(ctx)
				}
				done <- err
			}()
			go func() {
				w, err := s.WatchElect(ctx)
				if err == nil {
					_, err = w.Next()
				}
				done <- err
			}()
			go func() {
				_, err := s.ListMembers(ctx)
				done <- err
			}()
		}
		time.Sleep(time.Duration(50+round*50) * time.Millisecond)
		closeWithin(t, 10*time.Second, "Close under load", s.Close)
		for i := 0; i < 40; i++ {
			returnsWithin(t, done, 10*time.Second, "a call during Close")
		}
	}
}

// A Sync used without Init connects on first use: a call's ctx bounds its
// wait for that connect (ErrCancelled, errors.Is DeadlineExceeded), the
// calls waiting share one connect, and Close returns within the dial
// timeout. (The address accepts TCP connections and never answers, as a
// stalled etcd; before, each call dialed in turn for the whole dial
// timeout, ignoring its ctx.)
func TestFirstUseConnectRespectsTheCallsCtx(t *testing.T) {
	s := etcd.NewSync(sync.Nodes(silentEtcd(t)), sync.Timeouts(4*time.Second, 10*time.Second))
	errs := make(chan error, 3)
	started := time.Now()
	for i := 0; i < 3; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			errs <- s.Lock(ctx, "x")
		}()
	}
	for i := 0; i < 3; i++ {
		err := <-errs
		if !errors.Is(err, sync.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: %v, want ErrCancelled and DeadlineExceeded", i, err)
		}
	}
	if took := time.Since(started); took > 2*time.Second {
		t.Fatalf("the calls took %v with 200 ms ctx deadlines", took)
	}
	// A call with no deadline waiting on the connect: Close wakes it
	// (ErrClosed) and stops the connect instead of waiting it out.
	go func() { errs <- s.Lock(context.Background(), "x") }()
	time.Sleep(200 * time.Millisecond)
	closed := time.Now()
	s.Close()
	if err := returnsWithin(t, errs, 2*time.Second, "Lock waiting on the connect"); !errors.Is(err, sync.ErrClosed) {
		t.Fatalf("Lock woken by Close: %v, want ErrClosed", err)
	}
	if took := time.Since(closed); took > 2*time.Second {
		t.Fatalf("Close took %v: it waited out the 4 s dial", took)
	}
}

// silentEtcd is the address of an "etcd" that never answers: a listener
// that never accepts (connects complete in the kernel), closed when the
// test ends.
func silentEtcd(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// untilDialing waits until s has a connect in progress (at most 5 s).
func untilDialing(t *testing.T, s *sync.Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !sync.Dialing(s) {
		if time.Now().After(deadline) {
			t.Fatal("no connect began within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A call made while Init connects waits for that connect as for a
// first-use one: its ctx counts (before, Init held the Sync's lock for
// the whole dial and the call waited it out). A failed Init keeps the
// options it found, and Close stops Init's connect instead of waiting
// out the dial timeout.
func TestInitConnectRespectsTheCallsCtx(t *testing.T) {
	silent := sync.Nodes(silentEtcd(t))
	s := etcd.NewSync(silent, sync.Prefix("/before"))
	inits := make(chan error, 1)
	go func() {
		inits <- s.Init(silent, sync.Prefix("/after"), sync.Timeouts(time.Second, 10*time.Second))
	}()
	untilDialing(t, s)
	if prefix := s.Options().Prefix; prefix != "/before" {
		t.Fatalf("Options during Init's connect: Prefix %q, want the one in effect", prefix)
	}
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Lock(ctx, "x"); !errors.Is(err, sync.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock during Init's connect: %v, want ErrCancelled and DeadlineExceeded", err)
	}
	if took := time.Since(started); took > 800*time.Millisecond {
		t.Fatalf("Lock with a 200 ms deadline took %v: it waited for Init's connect", took)
	}
	if err := returnsWithin(t, inits, 5*time.Second, "Init to a silent etcd"); !errors.Is(err, sync.ErrUnavailable) {
		t.Fatalf("Init to a silent etcd: %v, want ErrUnavailable", err)
	}
	if prefix := s.Options().Prefix; prefix != "/before" {
		t.Fatalf("a failed Init left Prefix %q, want the one before it", prefix)
	}
	// Close during Init's connect: Init returns ErrClosed, neither waits
	// out the dial timeout.
	go func() {
		inits <- s.Init(silent, sync.Timeouts(4*time.Second, 10*time.Second))
	}()
	untilDialing(t, s)
	closed := time.Now()
	s.Close()
	if err := returnsWithin(t, inits, 2*time.Second, "Init stopped by Close"); !errors.Is(err, sync.ErrClosed) {
		t.Fatalf("Init stopped by Close: %v, want ErrClosed", err)
	}
	if took := time.Since(closed); took > 2*time.Second {
		t.Fatalf("Close took %v: it waited out Init's 4 s dial", took)
	}
}

// Options shows the options in effect while Init reconfigures a connected
// Sync (here: reconnects to an etcd that never answers), and after it
// failed.
func TestOptionsDuringAReconfiguringInitAreThoseInEffect(t *testing.T) {
	if !onEtcd {
		t.Skip("reconfiguring a connected Sync reconnects on etcd only")
	}
	s := newSync(t)
	before := s.Options().Prefix
	inits := make(chan error, 1)
	go func() {
		inits <- s.Init(sync.Nodes(silentEtcd(t)), sync.Prefix("/after"), sync.Timeouts(time.Second, 10*time.Second))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !sync.CallsInFlight(s) {
		if time.Now().After(deadline) {
			t.Fatal("Init did not start reconfiguring within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	if prefix := s.Options().Prefix; prefix != before {
		t.Fatalf("Options during Init's reconfiguration: Prefix %q, want %q (in effect)", prefix, before)
	}
	if err := returnsWithin(t, inits, 5*time.Second, "Init to a silent etcd"); !errors.Is(err, sync.ErrUnavailable) {
		t.Fatalf("Init to a silent etcd: %v, want ErrUnavailable", err)
	}
	if prefix := s.Options().Prefix; prefix != before {
		t.Fatalf("a failed Init left Prefix %q, want %q", prefix, before)
	}
}

// A call that joins a first-use connect begun before it does not take
// that connect's failure as its own try: it starts (or joins) another, so
// it gets a whole dial timeout of its own.
func TestFirstUseConnectJoinedLateGetsATryOfItsOwn(t *testing.T) {
	dialTimeout := time.Second
	s := etcd.NewSync(sync.Nodes(silentEtcd(t)), sync.Timeouts(dialTimeout, 10*time.Second))
	defer s.Close()
	first := make(chan error, 1)
	go func() { first <- s.Lock(context.Background(), "x") }()
	time.Sleep(dialTimeout / 2) // the first call's connect is half-way
	joined := time.Now()
	err := s.Lock(context.Background(), "x")
	took := time.Since(joined)
	if !errors.Is(err, sync.ErrUnavailable) {
		t.Fatalf("late call to a silent etcd: %v, want ErrUnavailable", err)
	}
	if took < dialTimeout {
		t.Fatalf("the late call failed after %v, less than a dial timeout (%v): it took the earlier connect's failure as its own", took, dialTimeout)
	}
	if err := returnsWithin(t, first, 5*time.Second, "the first call"); !errors.Is(err, sync.ErrUnavailable) {
		t.Fatalf("first call to a silent etcd: %v, want ErrUnavailable", err)
	}
}
