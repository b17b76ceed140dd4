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
	idle    chan struct{} // made by wait, closed when calls drops to 0
	closing chan struct{} // made by closingSignal, closed when Close starts
	wakers  map[int]waker // fired when Close starts: wake the blocked calls
	nextID  int
	// freed is made by waitFreed and closed once the handle is freed
	// (finished). Both channels are made only when someone waits on
	// them: most guards never need either.
	freed    chan struct{}
	finished bool
}

func newLifetime(what string) *lifetime {
	return &lifetime{what: what}
}

// closedChannel is closed from the start.
var closedChannel = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// closingSignal is closed when Close starts.
func (l *lifetime) closingSignal() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing == nil {
		if l.closed {
			return closedChannel
		}
		l.closing = make(chan struct{})
	}
	return l.closing
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
	if l.closing != nil {
		close(l.closing)
	}
	for _, w := range l.wakers {
		w.fire()
	}
	l.wakers = nil
	return true
}

// waker is what a blocked call registers to be woken by Close.
type waker interface{ fire() }

// addWaker registers w to be fired when Close starts (at once if it has)
// and returns its id for removeWaker. A nil lifetime registers nothing.
func (l *lifetime) addWaker(w waker) int {
	if l == nil {
		return -1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		w.fire()
		return -1
	}
	if l.wakers == nil {
		l.wakers = map[int]waker{}
	}
	id := l.nextID
	l.nextID++
	l.wakers[id] = w
	return id
}

// removeWaker forgets waker id: once it returns, that waker is not being
// fired and will not be.
func (l *lifetime) removeWaker(id int) {
	if l == nil || id < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.wakers, id)
}

// wait returns once no native call is in flight.
func (l *lifetime) wait() {
	l.mu.Lock()
	l.unlockAndWait(l.calls == 0, &l.idle)
}

// unlockAndWait releases l.mu, which the caller holds, and returns at once
// if done, else once *signal is closed (made here if nobody waited yet).
func (l *lifetime) unlockAndWait(done bool, signal *chan struct{}) {
	if done {
		l.mu.Unlock()
		return
	}
	if *signal == nil {
		*signal = make(chan struct{})
	}
	ch := *signal
	l.mu.Unlock()
	<-ch
}

// finish says the handle is freed; waitFreed waits for that.
func (l *lifetime) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished = true
	if l.freed != nil {
		close(l.freed)
	}
}

func (l *lifetime) waitFreed() {
	l.mu.Lock()
	l.unlockAndWait(l.finished, &l.freed)
}

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
