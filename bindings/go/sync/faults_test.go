// Fault injection exists only in the test build of libvinesync: build and
// test with -tags vinesync_test (make test-go does).

//go:build vinesync_test

package sync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/sync"
)

// L4: keepalives hold a 2 s lock beyond its TTL; a crashed holder's lock
// frees itself after the TTL. (2 s, not the 1 s minimum: on a loaded
// machine a keepalive round trip can outlast a 1 s lease's margin.)
func TestL4TTLKeepaliveAndCrash(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	if err := a.Lock(ctx, "x", sync.LockTTL(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4500 * time.Millisecond)
	if _, err := b.TryLock(ctx, "x", sync.LockTTL(time.Second)); err == nil {
		t.Fatal("lock taken while its holder keeps it alive")
	}
	if err := a.FaultCrash(); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(ctx, "x", sync.LockWait(10*time.Second)); err != nil {
		t.Fatalf("crashed holder's lock not freed: %v", err)
	}
}

// L6: a holder whose keepalives stop is told it lost the lock.
func TestL6LostWhenKeepaliveStops(t *testing.T) {
	a := newSync(t)
	g, err := a.LockGuard(context.Background(), "x", sync.LockTTL(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.IsLost() {
		t.Fatal("lost right away")
	}
	if err := a.FaultSuspendKeepalive(true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.WaitLost(ctx); err != nil {
		t.Fatalf("lost signal not delivered: %v", err)
	}
}

// H1: closing a Sync ends its locks without losing them (WaitLost gives
// ErrClosed, IsLost false), and a lock lost before the close stays lost
// (WaitLost nil, IsLost true), whatever was asked before and after Unlock.
func TestH1ALockLostBeforeTheCloseStaysLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closed := newSync(t)
	g, err := closed.LockGuard(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	_ = g.IsLost() // watched from here on
	closed.Close()
	if err := g.WaitLost(ctx); !errors.Is(err, sync.ErrClosed) || g.IsLost() {
		t.Fatalf("closed only: WaitLost %v, IsLost %v; want ErrClosed, false", err, g.IsLost())
	}
	if err := g.Unlock(); !errors.Is(err, sync.ErrClosed) || g.IsLost() {
		t.Fatalf("closed only, then Unlock: %v, IsLost %v; want ErrClosed, false", err, g.IsLost())
	}

	lost := newSync(t)
	g, err = lost.LockGuard(ctx, "y", sync.LockTTL(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := lost.FaultSuspendKeepalive(true); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitLost(ctx); err != nil {
		t.Fatalf("lost signal not delivered: %v", err)
	}
	lost.Close()
	if err := g.WaitLost(ctx); err != nil || !g.IsLost() {
		t.Fatalf("lost, then closed: WaitLost %v, IsLost %v; want nil, true", err, g.IsLost())
	}
	_ = g.Unlock()
	if err := g.WaitLost(ctx); err != nil || !g.IsLost() {
		t.Fatalf("lost, closed, unlocked: WaitLost %v, IsLost %v; want nil, true", err, g.IsLost())
	}
}

// L9: a waiter whose lease vanished while it waited does not report the
// lock with its dead key; it starts over and holds a newer token.
func TestL9WaiterWithExpiredLease(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	held, err := a.LockGuard(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		g   *sync.Guard
		err error
	}
	got := make(chan result, 1)
	go func() {
		// Longer than the 20 s poll for the queue below: a slow set-up fails
		// there, with a message that says so.
		g, err := b.LockGuard(ctx, "x", sync.LockWait(30*time.Second))
		got <- result{g, err}
	}()
	waitWaiters(t, a, "x", 1) // b's first key is written
	if err := b.FaultExpireLeases(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	token := held.FencingToken()
	held.Close()
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.g.Close()
	// held < b's dead key (token+1) < b's fresh key
	if r.g.FencingToken() <= token+1 {
		t.Fatalf("told it holds with its dead key: token %d after %d", r.g.FencingToken(), token)
	}
}

// E5: the primary's process dies; the next candidate is primary within
// TTL + 1 s (2 s of slack for a loaded machine).
func TestE5FailoverAfterCrash(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	la, err := a.Leader(ctx, "svc", sync.LeaderId("a"), sync.LeaderTTL(1))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Leader(ctx, "svc", sync.LeaderId("b"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer lb.(sync.Elected).Close()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := la.(sync.Elected).WaitElected(wctx); err != nil {
		t.Fatal(err)
	}
	if err := a.FaultCrash(); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 4*time.Second)
	defer fcancel()
	if err := lb.(sync.Elected).WaitElected(fctx); err != nil {
		t.Fatalf("no failover within TTL + 1 s (+2 s slack): %v", err)
	}
}
