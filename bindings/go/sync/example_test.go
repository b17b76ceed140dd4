package sync_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vinesync/vinesync/bindings/go/memory"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

// The seed's lock example: a second Lock of the same id waits until the
// first is unlocked. etcd.NewSync() works the same on etcd.
func ExampleClient_Lock() {
	s := memory.NewSync(sync.Prefix("/example/lock"))
	defer s.Close()
	if err := s.Init(); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := s.Lock(ctx, "lock1", sync.LockTTL(3*time.Second)); err != nil {
		fmt.Println(err)
		return
	}
	err := s.Lock(ctx, "lock1", sync.LockWait(100*time.Millisecond))
	fmt.Println(err == sync.ErrLockTimeout) // vine's sentinel, comparable with ==
	if err := s.Unlock(ctx, "lock1"); err != nil {
		fmt.Println(err)
	}
	fmt.Println("lock1 released")
	// Output:
	// true
	// lock1 released
}

// TryLock and guards: a fencing token that grows with every acquisition.
func ExampleClient_TryLock() {
	s := memory.NewSync(sync.Prefix("/example/trylock"))
	defer s.Close()
	ctx := context.Background()
	g, err := s.TryLock(ctx, "job")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = s.TryLock(ctx, "job")
	fmt.Println(errors.Is(err, sync.ErrWouldBlock))
	first := g.FencingToken()
	g.Close()
	g, err = s.TryLock(ctx, "job")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	fmt.Println(g.FencingToken() > first)
	// Output:
	// true
	// true
}

// Elect is vine's Leader returning a *sync.Candidate: WaitElected, Status
// and Close need no type assertion.
func ExampleClient_Elect() {
	s := memory.NewSync(sync.Prefix("/example/elect"))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := s.Elect(ctx, "svc", sync.LeaderId("node-1"), sync.LeaderTTL(10))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	if err := l.WaitElected(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-l.Status()) // true: already primary
	members, _ := s.ListMembers(ctx)
	fmt.Println(members[0].Id, members[0].Role)
	// Output:
	// true
	// node-1 primary
}

// Watch is vine's WatchElect returning a *sync.Watcher whose NextEvent
// tells the kind of each event.
func ExampleWatcher_NextEvent() {
	s := memory.NewSync(sync.Prefix("/example/watch"))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, err := s.Watch(ctx, sync.WatchNS("ns"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	l, err := s.Elect(ctx, "svc", sync.LeaderNS("ns"), sync.LeaderId("node-1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	for i := 0; i < 2; i++ {
		ev, err := w.NextEvent(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.Kind, ev.Member.Id)
	}
	// Output:
	// joined node-1
	// elected node-1
}
