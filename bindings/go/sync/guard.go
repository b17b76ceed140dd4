package sync

/*
#include <vinesync.h>
*/
import "C"

import (
	"context"
	"runtime"
	gosync "sync"
)

// Guard is a held lock with its fencing token (see Client.LockGuard and
// TryLock). Close (or Unlock) releases it.
type Guard struct {
	mu    gosync.Mutex
	g     *C.vs_guard
	token uint64
}

func newGuard(g *C.vs_guard) *Guard {
	guard := &Guard{g: g, token: uint64(C.vs_guard_fencing_token(g))}
	runtime.SetFinalizer(guard, func(g *Guard) { g.Close() }) // safety net only
	return guard
}

// FencingToken grows strictly with every acquisition of the lock.
func (g *Guard) FencingToken() uint64 { return g.token }

// IsLost reports whether the lock was lost (lease expired, key deleted).
func (g *Guard) IsLost() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.g == nil || bool(C.vs_guard_is_lost(g.g))
}

// WaitLost blocks until the lock is lost (nil) or ctx is done.
func (g *Guard) WaitLost(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.g == nil {
		return nil
	}
	return withCancel(ctx, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_guard_wait_lost(g.g, 0, cancel, e)
	})
}

// Unlock releases the lock now.
func (g *Guard) Unlock() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.g == nil {
		return &Error{Kind: ErrNotLocked, Message: "the guard was already released"}
	}
	err := plain(func(e **C.vs_error) C.vs_status { return C.vs_guard_unlock(g.g, nil, e) })
	C.vs_guard_free(&g.g)
	return err
}

// Close releases the lock if still held. Idempotent.
func (g *Guard) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	C.vs_guard_free(&g.g)
}
