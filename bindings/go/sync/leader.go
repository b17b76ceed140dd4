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
	"math"
	"runtime"
	gosync "sync"
)

// Candidate is a candidacy in an election: vine's Leader plus WaitElected,
// ResignContext, PrimaryContext and Close. It keeps its Sync alive.
type Candidate struct {
	c *Client
	*candidacy
	statusOnce gosync.Once
}

// candidacy is what the goroutines behind Status and Observe use: it points
// neither to its Candidate nor to the Sync, so those goroutines, blocked
// for as long as the candidacy lasts, cannot keep them from being
// finalized (SPEC H6).
type candidacy struct {
	lt      *lifetime
	parent  *lifetime // the Sync's
	l       *C.vs_leader
	id      string
	ended   chan struct{} // closed when the candidacy is over
	endOnce gosync.Once
	status  *statusLog
}

// Leader joins election name (vine's Leader): it returns once the
// candidate is registered; campaigning goes on in the background.
func (c *Client) Leader(ctx context.Context, name string, opts ...LeaderOption) (Leader, error) {
	return c.Elect(ctx, name, opts...)
}

// maxLeaderTTL is the largest LeaderTTL (seconds) whose milliseconds C
// can be given; the core refuses what is too large for a lease before that.
const maxLeaderTTL = math.MaxInt64 / 1000

// Elect is Leader returning the *Candidate (no type assertion needed for
// WaitElected and Close).
func (c *Client) Elect(ctx context.Context, name string, opts ...LeaderOption) (*Candidate, error) {
	o := LeaderOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.TTL < 0 {
		return nil, &Error{Kind: ErrInvalidArgument, Message: fmt.Sprintf("LeaderTTL %ds is negative", o.TTL)}
	}
	if o.TTL > maxLeaderTTL {
		return nil, &Error{Kind: ErrInvalidArgument, Message: fmt.Sprintf("LeaderTTL %ds is too large", o.TTL)}
	}
	if err := noNULs("leader name", name, "LeaderNS", o.Namespace, "LeaderId", o.Id); err != nil {
		return nil, err
	}
	h, err := c.handle(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave()
	cname, ns, id := cstr(name), optional(o.Namespace), optional(o.Id)
	defer free(cname)
	defer free(ns)
	defer free(id)
	var l *C.vs_leader
	err = blocking(ctx, c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_leader_new(h, cname, ns, id, C.uint64_t(o.TTL)*1000, cancel, &l, e)
	})
	if err != nil {
		return nil, err
	}
	c.adopt()
	ld := &Candidate{c: c, candidacy: &candidacy{lt: newLifetime("leader"), parent: c.lt, l: l,
		id: C.GoString(C.vs_leader_id(l)), ended: make(chan struct{}), status: newStatusLog()}}
	runtime.SetFinalizer(ld, finalizeLeader)
	return ld, nil
}

// Id is the candidate's id.
func (l *Candidate) Id() string { return l.id }

// end says the candidacy is over: Observe channels close.
func (l *candidacy) end() {
	l.endOnce.Do(func() {
		close(l.ended)
		l.status.end() // a Status taken from now on says the end at once
	})
}

// Resign gives up the candidacy; the next candidate is primary at once.
func (l *Candidate) Resign() error { return l.ResignContext(context.Background()) }

// ResignContext is Resign that stops waiting when ctx is done (the resign
// then completes in the background, SPEC H2).
func (l *Candidate) ResignContext(ctx context.Context) error {
	defer runtime.KeepAlive(l) // its finalizer must not run during the call
	err := blocking(ctx, l.lt, l.parent, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_leader_resign(l.l, cancel, e)
	})
	if err == nil || errors.Is(err, ErrCancelled) { // a cancelled resign completes in the background
		l.end()
	}
	return err
}

// Primary is the namespace's current primary (ErrNoLeader if none).
func (l *Candidate) Primary() (*Member, error) { return l.PrimaryContext(context.Background()) }

// PrimaryContext is Primary bounded by ctx.
func (l *Candidate) PrimaryContext(ctx context.Context) (*Member, error) {
	defer runtime.KeepAlive(l) // its finalizer must not run during the call
	var m *C.vs_owned_member
	err := blocking(ctx, l.lt, l.parent, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_leader_primary(l.l, cancel, &m, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.vs_owned_member_free(&m)
	return memberFrom(C.vs_owned_member_get(m)), nil
}

// WaitElected blocks until this candidate is primary (or ctx is done, or
// the candidacy ends: ErrLost, or the leader or its Sync is closed:
// ErrClosed).
func (l *Candidate) WaitElected(ctx context.Context) error {
	defer runtime.KeepAlive(l) // its finalizer must not run during the call
	return blocking(ctx, l.lt, l.parent, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_leader_wait_elected(l.l, 0, cancel, e)
	})
}

// startStatus reads the native status stream into l.status until the
// candidacy ends (or the leader or its Sync is closed).
func (l *candidacy) startStatus() {
	go func() {
		defer l.status.end()
		defer l.end()
		for {
			var primary C.bool
			err := blocking(nil, l.lt, l.parent, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
				return C.vs_leader_status_next(l.l, 0, cancel, &primary, e)
			})
			if err != nil { // ErrClosed: the candidacy is over
				return
			}
			l.status.add(bool(primary))
		}
	}()
}

// Status delivers true when elected (at once if primary now) and false
// when the primary role ends; each call gets its own channel with every
// change, closed when the candidacy ends (Resign, Close, lease lost). Each
// channel has a goroutine until then: call Status once and keep the
// channel rather than calling it in a polling loop.
func (l *Candidate) Status() chan bool {
	if l.lt.isClosed() || l.parent.isClosed() {
		l.end() // closed (SPEC H1): over, though the stream may not know yet
	}
	l.statusOnce.Do(l.candidacy.startStatus)
	return l.status.follow(l.lt.closingSignal())
}

// Observe delivers the namespace's primary each time it changes, starting
// with the current one; closed when the candidacy ends (Resign, Close,
// lease lost).
func (l *Candidate) Observe() chan ObserveResult {
	defer runtime.KeepAlive(l)               // its finalizer must not run during the call
	l.statusOnce.Do(l.candidacy.startStatus) // tells when the candidacy ends
	ch := make(chan ObserveResult, 1)
	var w *C.vs_watcher
	err := blocking(context.Background(), l.lt, l.parent, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_leader_observe(l.l, cancel, &w, e)
	})
	if err != nil {
		close(ch)
		return ch
	}
	leave, err := enterAll(l.parent, l.lt)
	if err != nil {
		C.vs_watcher_free(&w)
		close(ch)
		return ch
	}
	go l.candidacy.relayObserve(w, ch, leave)
	return ch
}

// relayObserve forwards the primaries until the candidacy ends; it is one
// call in flight on the leader, so Close waits for it to free the watcher.
func (l *candidacy) relayObserve(w *C.vs_watcher, ch chan ObserveResult, leave func()) {
	defer leave()
	defer close(ch)
	defer C.vs_watcher_free(&w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	closing, parentClosing := l.lt.closingSignal(), l.parent.closingSignal()
	for {
		var ev *C.vs_event
		err := blocking(ctx, l.lt, l.parent, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
			return C.vs_watcher_next(w, 0, cancel, &ev, e)
		})
		if err != nil {
			return
		}
		m := memberFrom(C.vs_event_member(ev))
		C.vs_event_free(&ev)
		select {
		case ch <- ObserveResult{Namespace: m.Namespace, Id: m.Id}:
		case <-ctx.Done():
			return
		case <-closing:
			return
		case <-parentClosing:
			return
		}
	}
}

// Close ends the candidacy (resigning if still a candidate), wakes the
// calls blocked on it with ErrClosed, closes its Status and Observe
// channels and frees it. Idempotent.
func (l *Candidate) Close() {
	if l.candidacy.free() {
		l.c.disown()
	}
}

// free ends the candidacy (resigning if still a candidate), wakes the calls
// blocked on it, waits for them and frees the native leader; false if it
// was freed before (it waits for that free to finish).
func (l *candidacy) free() bool {
	if !l.lt.close() {
		l.lt.waitFreed()
		return false
	}
	l.end()
	l.lt.wait()
	C.vs_leader_free(&l.l)
	l.lt.finish()
	return true
}

// Elected is the extra API of vinesync leaders (beyond vine's Leader);
// Client.Elect returns it without a type assertion.
type Elected interface {
	Leader
	WaitElected(ctx context.Context) error
	Close()
}

var _ Elected = (*Candidate)(nil)
