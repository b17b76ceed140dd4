package sync

/*
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import (
	"context"
	"runtime"
)

// Watcher is vine's ElectWatcher over vs_watch_elect, plus NextEvent
// (with the event's kind and a ctx). It keeps its Sync alive.
type Watcher struct {
	c  *Client
	lt *lifetime
	w  *C.vs_watcher
}

// WatchElect reports joins, leaves and primary changes in WatchNS (only
// those of WatchId when given); Next returns the member concerned.
func (c *Client) WatchElect(ctx context.Context, opts ...WatchElectOption) (ElectWatcher, error) {
	return c.Watch(ctx, opts...)
}

// Watch is WatchElect returning the *Watcher (NextEvent without a type
// assertion).
func (c *Client) Watch(ctx context.Context, opts ...WatchElectOption) (*Watcher, error) {
	o := WatchElectOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if err := noNULs("WatchNS", o.Namespace, "WatchId", o.Id); err != nil {
		return nil, err
	}
	h, err := c.handle(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave()
	ns, id := optional(o.Namespace), optional(o.Id)
	defer free(ns)
	defer free(id)
	var w *C.vs_watcher
	err = blocking(ctx, c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_watch_elect(h, ns, id, cancel, &w, e)
	})
	if err != nil {
		return nil, err
	}
	c.adopt()
	wt := &Watcher{c: c, lt: newLifetime("election watcher"), w: w}
	runtime.SetFinalizer(wt, finalizeWatcher)
	return wt, nil
}

// Next blocks until the next event and returns its member (vine's
// ElectWatcher); ErrClosed after Close.
func (w *Watcher) Next() (*Member, error) {
	ev, err := w.NextEvent(context.Background())
	return ev.Member, err
}

// NextEvent blocks until the next event, ctx is done (ErrCancelled) or
// the watcher or its Sync is closed (ErrClosed).
func (w *Watcher) NextEvent(ctx context.Context) (Event, error) {
	defer runtime.KeepAlive(w) // its finalizer must not run during the call
	var ev *C.vs_event
	err := blocking(ctx, w.lt, w.c.lt, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_watcher_next(w.w, 0, cancel, &ev, e)
	})
	if err != nil {
		return Event{}, err
	}
	defer C.vs_event_free(&ev)
	kind := EventJoined
	switch C.vs_event_get_kind(ev) {
	case C.VS_EVENT_LEFT:
		kind = EventLeft
	case C.VS_EVENT_ELECTED:
		kind = EventElected
	}
	return Event{Kind: kind, Member: memberFrom(C.vs_event_member(ev))}, nil
}

// Close ends the watch: a Next in progress returns ErrClosed. Idempotent.
func (w *Watcher) Close() {
	if !w.lt.close() {
		w.lt.waitFreed()
		return
	}
	C.vs_watcher_close(w.w, nil)
	w.lt.wait()
	C.vs_watcher_free(&w.w)
	w.c.disown()
	w.lt.finish()
}
