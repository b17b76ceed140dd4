package sync_test

// ctx on every call that can block or does network I/O: with etcd stalled
// (a pausable proxy in front of it), each call given a 300 ms deadline
// returns ErrCancelled (also errors.Is context.DeadlineExceeded) well
// before the 30 s request timeout. Once etcd answers again, the unlock and
// resign that were cut short complete (SPEC H2) and the cancelled Lock,
// TryLock and Leader leave no key behind (SPEC H3).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

func TestH2H3CtxDeadlineOnEveryCallWithEtcdStalled(t *testing.T) {
	if !onEtcd {
		t.Skip("needs etcd (the etcd leg of make test-go runs it)")
	}
	ctx := context.Background()
	prefix := sync.Prefix(fmt.Sprintf("/gotest/%s/%d", t.Name(), os.Getpid()))
	proxy := startProxy(t, strings.Split(os.Getenv("VINESYNC_NODES"), ",")[0])
	defer proxy.Close()
	s := etcd.NewSync(prefix, sync.Nodes(proxy.Addr()), sync.Timeouts(2*time.Second, 30*time.Second))
	defer s.Close()
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	direct := newSync(t)
	if err := s.Lock(ctx, "held"); err != nil {
		t.Fatal(err)
	}
	primary, err := s.Elect(ctx, "svc", sync.LeaderId("primary"), sync.LeaderTTL(30))
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := primary.WaitElected(wctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	follower, err := s.Elect(ctx, "svc", sync.LeaderId("follower"), sync.LeaderTTL(30))
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	w, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	guarded, err := s.LockGuard(ctx, "guarded")
	if err != nil {
		t.Fatal(err)
	}

	proxy.Pause()
	defer proxy.Resume() // before the Closes above, on every path
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Lock", func(ctx context.Context) error { return s.Lock(ctx, "free") }},
		{"TryLock", func(ctx context.Context) error { _, err := s.TryLock(ctx, "free2"); return err }},
		{"Unlock", func(ctx context.Context) error { return s.Unlock(ctx, "held") }},
		{"Leader", func(ctx context.Context) error { _, err := s.Leader(ctx, "other"); return err }},
		{"ListMembers", func(ctx context.Context) error { _, err := s.ListMembers(ctx); return err }},
		{"WatchElect", func(ctx context.Context) error { _, err := s.WatchElect(ctx); return err }},
		{"WaitElected", follower.WaitElected},
		{"PrimaryContext", func(ctx context.Context) error { _, err := follower.PrimaryContext(ctx); return err }},
		{"NextEvent", func(ctx context.Context) error { _, err := w.NextEvent(ctx); return err }},
		{"ResignContext", primary.ResignContext},
		{"Guard.UnlockContext", guarded.UnlockContext},
	}
	for _, c := range calls {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		start := time.Now()
		err := c.call(cctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, sync.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with etcd stalled: got %v after %v, want ErrCancelled + DeadlineExceeded", c.name, err, took)
		} else if took > 2*time.Second {
			t.Errorf("%s with etcd stalled took %v for a 300 ms ctx", c.name, took)
		}
	}
	proxy.Resume()
	// H2: the unlock and the resign cut short by ctx finish in the background.
	if err := direct.Lock(ctx, "held", sync.LockWait(20*time.Second)); err != nil {
		t.Fatalf("the cancelled Unlock did not complete: %v", err)
	}
	if err := direct.Lock(ctx, "guarded", sync.LockWait(20*time.Second)); err != nil {
		t.Fatalf("the cancelled Guard.UnlockContext did not complete: %v", err)
	}
	wctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := follower.WaitElected(wctx); err != nil {
		t.Fatalf("the cancelled Resign did not complete: %v", err)
	}
	// H3: what the cancelled calls may have written is cleaned up.
	for _, id := range []string{"free", "free2"} {
		g, err := direct.LockGuard(ctx, id, sync.LockWait(20*time.Second))
		if err != nil {
			t.Fatalf("the cancelled acquisition of %q left a key: %v", id, err)
		}
		g.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ms, err := direct.ListMembers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		left := false
		for _, m := range ms {
			left = left || m.Leader == "other"
		}
		if !left {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled Leader left a candidate: %+v", ms)
		}
	}
}
