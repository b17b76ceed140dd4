package sync

/*
#include <vinesync.h>
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
)

// Guard is a held lock with its fencing token (see Client.LockGuard and
// TryLock). Unlock or Close releases it. A Guard keeps its Sync alive.
type Guard struct {
	c     *Client
	lt    lifetime // in the guard itself: one allocation less per lock
	g     *C.vs_guard
	token uint64
	lost  atomic.Bool // whether it was lost when released
}

func (c *Client) newGuard(g *C.vs_guard) *Guard {
	c.adopt()
	guard := &Guard{c: c, lt: lifetime{what: "guard"}, g: g, token: uint64(C.vs_guard_fencing_token(g))}
	runtime.SetFinalizer(guard, finalizeGuard)
	return guard
}

// FencingToken grows strictly with every acquisition of the lock.
func (g *Guard) FencingToken() uint64 { return g.token }

// IsLost reports whether the lock is lost (lease expired, key deleted by
// someone else: SPEC L6); false for a lock released by Unlock or Close
// (then: whether it had been lost by then).
func (g *Guard) IsLost() bool {
	defer runtime.KeepAlive(g) // its finalizer must not run during the call
	if err := g.lt.enter(); err != nil {
		g.lt.waitFreed()
		return g.lost.Load()
	}
	defer g.lt.leave()
	return bool(C.vs_guard_is_lost(g.g))
}

// WaitLost blocks until the lock is lost (nil), ctx is done (ErrCancelled),
// the guard or its Sync is closed or the guard unlocked (ErrClosed), or
// the lock is released by the Sync's Unlock(id) (ErrNotLocked). It does
// not hold up IsLost, and Unlock or Close wakes it. A lock lost before the
// close stays lost: nil, as IsLost says.
func (g *Guard) WaitLost(ctx context.Context) error {
	defer runtime.KeepAlive(g) // its finalizer must not run during the call
	err := blocking(ctx, &g.lt, g.c.lt, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_guard_wait_lost(g.g, 0, cancel, e)
	})
	if errors.Is(err, ErrClosed) && g.IsLost() {
		return nil
	}
	return err
}

// Unlock releases the lock now (ErrNotLocked if the guard was already
// released, ErrLost if the lock had been lost, ErrClosed once its Sync is
// closed, which released it).
func (g *Guard) Unlock() error { return g.release(context.Background(), true) }

// UnlockContext is Unlock that stops waiting when ctx is done: it then
// returns ErrCancelled and the release completes in the background (SPEC H2).
func (g *Guard) UnlockContext(ctx context.Context) error { return g.release(ctx, true) }

// Close releases the lock if still held. Idempotent.
func (g *Guard) Close() { _ = g.release(context.Background(), false) }

// release wakes the calls in flight on the guard, waits for them, then
// unlocks (or just frees, which releases in the background) the guard.
func (g *Guard) release(ctx context.Context, unlock bool) error {
	if !g.lt.close() {
		g.lt.waitFreed()
		if unlock {
			return &Error{Kind: ErrNotLocked, Message: "the guard was already released"}
		}
		return nil
	}
	g.lt.wait()
	var err error
	if unlock {
		err = blocking(ctx, nil, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
			return C.vs_guard_unlock(g.g, cancel, e)
		})
	}
	if unlock && err == nil {
		// Released while still ours: it had not been lost (no native call).
		g.lost.Store(false)
	} else {
		g.lost.Store(bool(C.vs_guard_is_lost(g.g)))
	}
	C.vs_guard_free(&g.g)
	g.c.disown()
	g.lt.finish()
	// Nothing is left for the finalizer to do (it would only see the
	// guard closed): dropping it lets one GC cycle reclaim the guard.
	runtime.SetFinalizer(g, nil)
	return err
}

// freeGuard frees a native guard, releasing its lock if still held.
func freeGuard(g *C.vs_guard) { C.vs_guard_free(&g) }

// guardReleased says whether g's lock was released (by the Sync's
// Unlock(id) or its close): freeing g then releases nothing.
func guardReleased(g *C.vs_guard) bool { return bool(C.vs_guard_is_released(g)) }
