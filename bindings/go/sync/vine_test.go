package sync_test

// vine behaviour that vine programs rely on, and the extensions reachable
// without type assertions.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/memory"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

// L2: vine programs compare with ==.
func TestL2LockTimeoutIsTheBareSentinel(t *testing.T) {
	a, b := newSync(t), newSync(t)
	if err := a.Lock(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	err := b.Lock(context.Background(), "x", sync.LockWait(200*time.Millisecond))
	if err != sync.ErrLockTimeout {
		t.Fatalf("got %#v, want sync.ErrLockTimeout itself", err)
	}
}

// receive reads one value from ch or fails after d.
func receive[T any](t *testing.T, ch <-chan T, d time.Duration, what string) (T, bool) {
	t.Helper()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-time.After(d):
		t.Fatalf("%s: nothing within %v", what, d)
	}
	var zero T
	return zero, false
}

// E3: each Status() channel has the whole stream, starting with the
// current state; all close when the candidacy ends.
func TestE3EveryStatusChannelGetsEveryChange(t *testing.T) {
	s := newSync(t)
	l, err := s.Elect(context.Background(), "svc", sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	first := l.Status()
	if v, ok := receive(t, first, 5*time.Second, "first Status"); !v || !ok {
		t.Fatalf("first Status: %v %v, want true", v, ok)
	}
	second, third := l.Status(), l.Status()
	for i, ch := range []chan bool{second, third} {
		if v, ok := receive(t, ch, 2*time.Second, "Status while primary"); !v || !ok {
			t.Fatalf("Status %d while primary: %v %v, want true at once", i+2, v, ok)
		}
	}
	if err := l.Resign(); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []chan bool{first, second, third} {
		if v, ok := receive(t, ch, 5*time.Second, "Status after Resign"); v || !ok {
			t.Fatalf("Status %d after Resign: %v %v, want false", i+1, v, ok)
		}
		if _, ok := receive(t, ch, 5*time.Second, "Status close"); ok {
			t.Fatalf("Status %d not closed after the candidacy ended", i+1)
		}
	}
}

// E6: Observe starts with the current primary and closes on Resign.
func TestE6ObserveClosesOnResign(t *testing.T) {
	s := newSync(t)
	l, err := s.Elect(context.Background(), "svc", sync.LeaderId("me"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	obs := l.Observe()
	if r, _ := receive(t, obs, 5*time.Second, "Observe"); r.Id != "me" {
		t.Fatalf("observe %+v", r)
	}
	if err := l.Resign(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-obs:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("Observe channel still open 5 s after Resign")
		}
	}
}

// Init reconfigures in place: the lock held keeps its key, new calls use
// the new prefix, and Unlock(id) releases under the prefix the lock was
// taken with (core L7: one acquisition per prefix).
func TestInitReconfiguresWithoutDroppingHeldState(t *testing.T) {
	s, other := newSync(t), newSync(t)
	ctx := context.Background()
	if err := s.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(); err != nil {
		t.Fatalf("Init with no change: %v", err)
	}
	original := s.Options().Prefix
	elsewhere := original + "/elsewhere"
	if err := s.Init(sync.Prefix(elsewhere)); err != nil {
		t.Fatalf("Init changing the prefix while holding a lock: %v", err)
	}
	if s.Options().Prefix != elsewhere {
		t.Fatalf("Options().Prefix = %q", s.Options().Prefix)
	}
	if _, err := other.TryLock(ctx, "x"); !errors.Is(err, sync.ErrWouldBlock) {
		t.Fatalf("the lock was dropped by Init: %v", err)
	}
	// the new prefix is in use: the same id is free there
	if err := s.Lock(ctx, "x", sync.LockWait(2*time.Second)); err != nil {
		t.Fatalf("lock under the new prefix: %v", err)
	}
	if err := s.Unlock(ctx, "x"); err != nil {
		t.Fatalf("unlock under the new prefix: %v", err)
	}
	if err := s.Init(sync.Prefix(original)); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, "x"); err != nil {
		t.Fatalf("unlock of the lock taken before Init: %v", err)
	}
	g, err := other.TryLock(ctx, "x")
	if err != nil {
		t.Fatalf("the lock unlocked after Init is still taken: %v", err)
	}
	g.Close()
}

// Empty options fall back to the defaults (VINESYNC_*, then vine's).
func TestEmptyOptionsFallBackToDefaults(t *testing.T) {
	var s *sync.Client
	if onEtcd {
		s = etcd.NewSync(sync.Prefix(""), sync.Nodes())
	} else {
		s = memory.NewSync(sync.Prefix(""), sync.Nodes())
	}
	defer s.Close()
	if err := s.Init(); err != nil {
		t.Fatalf("Init with Prefix(\"\") and Nodes(): %v", err)
	}
	id := fmt.Sprintf("gotest-defaults-%d", os.Getpid())
	if err := s.Lock(context.Background(), id, sync.LockTTL(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

// Every VINESYNC_* setting is read; a bad one is named by Init.
func TestEnvTimeoutsAreRead(t *testing.T) {
	t.Setenv("VINESYNC_DIAL_TIMEOUT_MS", "soon")
	err := memory.NewSync().Init()
	if !errors.Is(err, sync.ErrInvalidArgument) || !strings.Contains(err.Error(), "VINESYNC_DIAL_TIMEOUT_MS") {
		t.Fatalf("bad VINESYNC_DIAL_TIMEOUT_MS: %v", err)
	}
	// More digits than fit: too large for the clock, no limit.
	t.Setenv("VINESYNC_DIAL_TIMEOUT_MS", "99999999999999999999999")
	huge := memory.NewSync()
	if err := huge.Init(); err != nil {
		t.Fatalf("VINESYNC_DIAL_TIMEOUT_MS too large for the clock: %v, want no limit", err)
	}
	huge.Close()
	t.Setenv("VINESYNC_DIAL_TIMEOUT_MS", "1500")
	t.Setenv("VINESYNC_REQUEST_TIMEOUT_MS", "0")
	err = memory.NewSync().Init()
	if !errors.Is(err, sync.ErrInvalidArgument) || !strings.Contains(err.Error(), "VINESYNC_REQUEST_TIMEOUT_MS") {
		t.Fatalf("bad VINESYNC_REQUEST_TIMEOUT_MS: %v", err)
	}
}

// E8: events carry their kind (no type assertion: Client.Watch).
func TestE8EventKinds(t *testing.T) {
	s := newSync(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := s.Watch(ctx, sync.WatchNS("ns"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l, err := s.Elect(ctx, "svc", sync.LeaderNS("ns"), sync.LeaderId("m"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	want := []sync.EventKind{sync.EventJoined, sync.EventElected}
	for _, kind := range want {
		ev, err := w.NextEvent(ctx)
		if err != nil || ev.Kind != kind || ev.Member.Id != "m" {
			t.Fatalf("want %v of m, got %v %+v %v", kind, ev.Kind, ev.Member, err)
		}
	}
	if err := l.Resign(); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := w.NextEvent(ctx)
		if err != nil {
			t.Fatalf("no left event after Resign: %v", err)
		}
		if ev.Kind == sync.EventLeft && ev.Member.Id == "m" {
			break
		}
	}
	l.Close()
}

// E8: WatchId keeps only the events of that member.
func TestE8WatchIdFilters(t *testing.T) {
	s := newSync(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := s.Watch(ctx, sync.WatchId("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, id := range []string{"a", "b", "c"} {
		l, err := s.Elect(ctx, "svc", sync.LeaderId(id), sync.LeaderTTL(10))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
	}
	ev, err := w.NextEvent(ctx)
	if err != nil || ev.Member.Id != "b" || ev.Kind != sync.EventJoined {
		t.Fatalf("first event %v %+v %v, want b joined", ev.Kind, ev.Member, err)
	}
	quiet, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stop()
	if ev, err := w.NextEvent(quiet); err == nil {
		t.Fatalf("an event not about b: %v %+v", ev.Kind, ev.Member)
	}
}

// E7: Syncs with different prefixes share nothing.
func TestE7PrefixIsolation(t *testing.T) {
	a := newSync(t)
	prefix := a.Options().Prefix + "-other"
	var b *sync.Client
	if onEtcd {
		b = etcd.NewSync(sync.Prefix(prefix))
	} else {
		b = memory.NewSync(sync.Prefix(prefix))
	}
	defer b.Close()
	ctx := context.Background()
	if err := a.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// 20 s: the wait also covers b's connection and lease grant.
	if err := b.Lock(ctx, "x", sync.LockWait(20*time.Second)); err != nil {
		t.Fatalf("the same id under another prefix: %v", err)
	}
	la, err := a.Elect(ctx, "svc", sync.LeaderId("a"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	lb, err := b.Elect(ctx, "svc", sync.LeaderId("b"), sync.LeaderTTL(10))
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	for _, l := range []*sync.Candidate{la, lb} {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := l.WaitElected(wctx)
		cancel()
		if err != nil {
			t.Fatalf("%s not primary of its own prefix: %v", l.Id(), err)
		}
	}
	for _, s := range []*sync.Client{a, b} {
		ms, err := s.ListMembers(ctx)
		if err != nil || len(ms) != 1 {
			t.Fatalf("members under %s: %v %v", s.Options().Prefix, ms, err)
		}
	}
}
