package sync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/sync"
)

// H1, L8: a blocking call's cancel token is kept for later calls only if
// it never fired (native.go): calls after cancelled ones, more of them than
// the tokens kept, are not cut short by a token that fired for another.
func TestH1L8ReusedCancelTokensNeverFired(t *testing.T) {
	a, b := newSync(t), newSync(t)
	if err := a.Lock(context.Background(), "held"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 80; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		err := b.Lock(ctx, "held", sync.LockTTL(60*time.Second))
		cancel()
		if !errors.Is(err, sync.ErrCancelled) {
			t.Fatalf("round %d: a Lock of a held lock whose ctx ended: %v", i, err)
		}
		live, stop := context.WithCancel(context.Background())
		g, err := b.LockGuard(live, fmt.Sprintf("free%d", i))
		if err != nil {
			stop()
			t.Fatalf("round %d: a Lock after a cancelled one: %v", i, err)
		}
		err = g.UnlockContext(live)
		stop()
		if err != nil {
			t.Fatalf("round %d: an Unlock after a cancelled Lock: %v", i, err)
		}
	}
}
