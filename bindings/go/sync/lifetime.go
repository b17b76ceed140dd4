package sync

import gosync "sync"

// lifetime guards one native handle (SPEC H1): it counts the native calls
// in flight on it, so that Close can wake them (closing), wait until none is
// left and only then free the handle; calls that start after Close get
// ErrClosed.
type lifetime struct {
	what    string // names the handle in errors: "sync handle", "leader", …
	mu      gosync.Mutex
	calls   int
	closed  bool
	idle    chan struct{}  // made by wait, closed when calls drops to 0
	closing chan struct{}  // closed when Close starts
	wakers  map[int]func() // run when Close starts: wake the blocked calls
	nextID  int
	freed   chan struct{} // closed once the handle is freed
}

func newLifetime(what string) *lifetime {
	return &lifetime{what: what, closing: make(chan struct{}), freed: make(chan struct{})}
}

func (l *lifetime) closedError() error {
	return &Error{Kind: ErrClosed, Message: "the " + l.what + " is closed"}
}

// enter admits one native call (ErrClosed after Close); leave ends it.
func (l *lifetime) enter() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.closedError()
	}
	l.calls++
	return nil
}

func (l *lifetime) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls--
	if l.calls == 0 && l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
}

// busy reports whether a native call is in flight.
func (l *lifetime) busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls > 0
}

// isClosed reports whether Close has started.
func (l *lifetime) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// close refuses new calls and wakes the blocked ones. Only its first caller
// gets true: that one must call wait, free the handle and then finish; the
// others call waitFreed.
func (l *lifetime) close() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.closed = true
	close(l.closing)
	for _, wake := range l.wakers {
		wake()
	}
	l.wakers = nil
	return true
}

// onClose registers wake to run when Close starts (at once if it has); after
// the returned func, wake is not running and will not run.
func (l *lifetime) onClose(wake func()) (forget func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		wake()
		return func() {}
	}
	if l.wakers == nil {
		l.wakers = map[int]func(){}
	}
	id := l.nextID
	l.nextID++
	l.wakers[id] = wake
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.wakers, id)
	}
}

// wait returns once no native call is in flight.
func (l *lifetime) wait() {
	l.mu.Lock()
	if l.calls == 0 {
		l.mu.Unlock()
		return
	}
	if l.idle == nil {
		l.idle = make(chan struct{})
	}
	idle := l.idle
	l.mu.Unlock()
	<-idle
}

// finish says the handle is freed; waitFreed waits for that.
func (l *lifetime) finish()    { close(l.freed) }
func (l *lifetime) waitFreed() { <-l.freed }

// enterAll enters each lifetime (nil ones are skipped), the first closed
// one's ErrClosed otherwise; the returned func leaves them.
func enterAll(lts ...*lifetime) (func(), error) {
	entered := make([]*lifetime, 0, len(lts))
	leave := func() {
		for _, l := range entered {
			l.leave()
		}
	}
	for _, l := range lts {
		if l == nil {
			continue
		}
		if err := l.enter(); err != nil {
			leave()
			return nil, err
		}
		entered = append(entered, l)
	}
	return leave, nil
}
