package sync_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/sync"
)

// LockInfo: a free lock has no holder; a held one lists its holder and
// its waiters in order, with this process's pid and increasing tokens.
func TestLockInfoHolderAndWaiters(t *testing.T) {
	a, b := newSync(t), newSync(t)
	ctx := context.Background()
	info, err := a.LockInfo(ctx, "inspected")
	if err != nil || info.Holder != nil || len(info.Waiters) != 0 {
		t.Fatalf("free lock: %+v, %v", info, err)
	}
	g, err := a.LockGuard(ctx, "inspected")
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		// Longer than the 20 s poll for the queue below: a slow set-up fails
		// there, with a message that says so.
		g2, err := b.LockGuard(ctx, "inspected", sync.LockWait(30*time.Second))
		if err == nil {
			g2.Close()
		}
		waited <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err = a.LockInfo(ctx, "inspected")
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Waiters) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.Holder == nil || len(info.Waiters) != 1 {
		t.Fatalf("want a holder and one waiter: %+v", info)
	}
	h, w := info.Holder, info.Waiters[0]
	if h.FencingToken != g.FencingToken() || w.FencingToken <= h.FencingToken {
		t.Fatalf("tokens: holder %d (guard %d), waiter %d", h.FencingToken, g.FencingToken(), w.FencingToken)
	}
	if h.Pid != uint32(os.Getpid()) || w.Pid != uint32(os.Getpid()) || h.Handle == w.Handle || h.Host == "" {
		t.Fatalf("holder %+v, waiter %+v", h, w)
	}
	if !strings.Contains(h.Key, "/locks/inspected/") || h.Value != "" {
		t.Fatalf("holder %+v", h)
	}
	g.Close()
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if _, err := a.LockInfo(ctx, ""); !errors.Is(err, sync.ErrInvalidArgument) {
		t.Fatalf("empty id: got %v, want ErrInvalidArgument", err)
	}
}
