package sync

/*
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	gosync "sync"
)

// poll is how long a background native wait lasts before it checks
// whether its Go owner was closed.
const poll = 200 // ms

type leader struct {
	l    *C.vs_leader
	id   string
	stop chan struct{}
	wg   gosync.WaitGroup
	once gosync.Once
}

// Leader joins election name (vine's Leader): it returns once the
// candidate is registered; campaigning goes on in the background.
func (c *Client) Leader(ctx context.Context, name string, opts ...LeaderOption) (Leader, error) {
	return c.leader(ctx, name, opts)
}

func (c *Client) leader(ctx context.Context, name string, opts []LeaderOption) (*leader, error) {
	h, err := c.handle()
	if err != nil {
		return nil, err
	}
	o := LeaderOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.TTL < 0 {
		return nil, fmt.Errorf("%w: LeaderTTL %ds is negative", ErrInvalidArgument, o.TTL)
	}
	cname, ns, id := cstr(name), optional(o.Namespace), optional(o.Id)
	defer free(cname)
	defer free(ns)
	defer free(id)
	var l *C.vs_leader
	if err := plain(func(e **C.vs_error) C.vs_status {
		return C.vs_leader_new(h, cname, ns, id, C.uint64_t(o.TTL)*1000, nil, &l, e)
	}); err != nil {
		return nil, err
	}
	runtime.KeepAlive(c)
	ld := &leader{l: l, id: C.GoString(C.vs_leader_id(l)), stop: make(chan struct{})}
	runtime.SetFinalizer(ld, func(ld *leader) { ld.Close() }) // safety net only
	return ld, nil
}

func (l *leader) Id() string { return l.id }

// Resign gives up the candidacy; the next candidate is primary at once.
func (l *leader) Resign() error {
	err := plain(func(e **C.vs_error) C.vs_status { return C.vs_leader_resign(l.l, nil, e) })
	runtime.KeepAlive(l)
	return err
}

// Primary is the namespace's current primary (ErrNoLeader if none).
func (l *leader) Primary() (*Member, error) {
	var m *C.vs_owned_member
	if err := plain(func(e **C.vs_error) C.vs_status { return C.vs_leader_primary(l.l, nil, &m, e) }); err != nil {
		return nil, err
	}
	defer C.vs_owned_member_free(&m)
	runtime.KeepAlive(l)
	return memberFrom(C.vs_owned_member_get(m)), nil
}

// WaitElected blocks until this candidate is primary (or ctx is done, or
// the candidacy ends: ErrLost).
func (l *leader) WaitElected(ctx context.Context) error {
	err := withCancel(ctx, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_leader_wait_elected(l.l, 0, cancel, e)
	})
	runtime.KeepAlive(l)
	return err
}

// relay forwards what next yields to a new channel from a goroutine, until
// Close or until next fails for good (a timeout of its native wait just
// polls again); done runs before the channel is closed.
func relay[T any](l *leader, next func() (T, error), done func()) chan T {
	ch := make(chan T, 4)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(ch)
		defer done()
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			v, err := next()
			switch {
			case err == nil:
				select {
				case ch <- v:
				case <-l.stop:
					return
				}
			case errors.Is(err, ErrTimedOut):
			default:
				return
			}
		}
	}()
	return ch
}

// Status delivers true when elected and false when the primary role ends;
// the channel is closed when the candidacy is over (or Close is called).
func (l *leader) Status() chan bool {
	return relay(l, func() (bool, error) {
		var primary C.bool
		err := plain(func(e **C.vs_error) C.vs_status {
			return C.vs_leader_status_next(l.l, poll, nil, &primary, e)
		})
		return bool(primary), err
	}, func() {})
}

// Observe delivers the namespace's primary each time it changes, starting
// with the current one; closed on Close.
func (l *leader) Observe() chan ObserveResult {
	var w *C.vs_watcher
	if err := plain(func(e **C.vs_error) C.vs_status { return C.vs_leader_observe(l.l, nil, &w, e) }); err != nil {
		ch := make(chan ObserveResult)
		close(ch)
		return ch
	}
	return relay(l, func() (ObserveResult, error) {
		var ev *C.vs_event
		err := plain(func(e **C.vs_error) C.vs_status { return C.vs_watcher_next(w, poll, nil, &ev, e) })
		if err != nil {
			return ObserveResult{}, err
		}
		m := memberFrom(C.vs_event_member(ev))
		C.vs_event_free(&ev)
		return ObserveResult{Namespace: m.Namespace, Id: m.Id}, nil
	}, func() { C.vs_watcher_free(&w) })
}

// Close stops Status/Observe, resigns if still a candidate and frees the
// candidacy. Idempotent.
func (l *leader) Close() {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
		C.vs_leader_free(&l.l)
	})
}

// Elected is the extra API of vinesync leaders (beyond vine's Leader).
type Elected interface {
	Leader
	WaitElected(ctx context.Context) error
	Close()
}

var _ Elected = (*leader)(nil)

// watcher is vine's ElectWatcher over vs_watch_elect.
type watcher struct {
	mu     gosync.Mutex
	w      *C.vs_watcher
	closed chan struct{}
	once   gosync.Once
}

// WatchElect reports joins, leaves and primary changes in WatchNS (only
// those of WatchId when given); Next returns the member concerned.
func (c *Client) WatchElect(ctx context.Context, opts ...WatchElectOption) (ElectWatcher, error) {
	h, err := c.handle()
	if err != nil {
		return nil, err
	}
	o := WatchElectOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	ns, id := optional(o.Namespace), optional(o.Id)
	defer free(ns)
	defer free(id)
	var w *C.vs_watcher
	if err := plain(func(e **C.vs_error) C.vs_status { return C.vs_watch_elect(h, ns, id, nil, &w, e) }); err != nil {
		return nil, err
	}
	runtime.KeepAlive(c)
	wt := &watcher{w: w, closed: make(chan struct{})}
	runtime.SetFinalizer(wt, func(w *watcher) { w.Close() }) // safety net only
	return wt, nil
}

// Next blocks until the next event (ErrClosed after Close).
func (w *watcher) Next() (*Member, error) {
	for {
		select {
		case <-w.closed:
			return nil, &Error{Kind: ErrClosed, Message: "the election watcher is closed"}
		default:
		}
		w.mu.Lock()
		if w.w == nil {
			w.mu.Unlock()
			return nil, &Error{Kind: ErrClosed, Message: "the election watcher is closed"}
		}
		var ev *C.vs_event
		err := plain(func(e **C.vs_error) C.vs_status { return C.vs_watcher_next(w.w, poll, nil, &ev, e) })
		w.mu.Unlock()
		if errors.Is(err, ErrTimedOut) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m := memberFrom(C.vs_event_member(ev))
		C.vs_event_free(&ev)
		return m, nil
	}
}

// Close ends the watch. Idempotent; a Next in progress returns ErrClosed.
func (w *watcher) Close() {
	w.once.Do(func() {
		close(w.closed)
		w.mu.Lock()
		defer w.mu.Unlock()
		C.vs_watcher_free(&w.w)
	})
}
