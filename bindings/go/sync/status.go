package sync

import gosync "sync"

// statusLog records a candidate's status changes (true = elected, false =
// the primary role ended) so that every Status() channel gets the whole
// stream from the current state on, instead of the channels splitting the
// native stream between them.
type statusLog struct {
	mu      gosync.Mutex
	changes []bool        // oldest first; one entry per change, so it stays short
	over    bool          // the candidacy has ended: no more changes
	wake    chan struct{} // closed (and replaced) at every change
	done    chan struct{} // closed when the candidacy ends
}

func newStatusLog() *statusLog {
	return &statusLog{wake: make(chan struct{}), done: make(chan struct{})}
}

func (s *statusLog) add(primary bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return // a late change of a candidacy that is over
	}
	s.changes = append(s.changes, primary)
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *statusLog) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.over {
		// Over: not primary any more, whether or not the native stream
		// said so before it ended (a Status taken now must not say true).
		if n := len(s.changes); n > 0 && s.changes[n-1] {
			s.changes = append(s.changes, false)
		}
		s.over = true
		close(s.wake)
		close(s.done)
	}
}

// follow is a new channel that delivers the current state if it is
// primary (a vine program's `<-Status()` waits for the election), then
// every change; it is closed when the candidacy ends or stop is closed.
// Its goroutine ends then too, also when nobody reads the channel: a
// channel read only after the end has the last state, then is closed.
func (s *statusLog) follow(stop <-chan struct{}) chan bool {
	ch := make(chan bool, 1)
	s.mu.Lock()
	next := len(s.changes) - 1 // the current state
	if next < 0 {
		next = 0
	}
	s.mu.Unlock()
	go func() {
		defer close(ch)
		sent := false // as if "not primary" had been said
		for {
			s.mu.Lock()
			if next < len(s.changes) {
				v := s.changes[next]
				next++
				s.mu.Unlock()
				if v == sent {
					continue
				}
				select {
				case ch <- v:
					sent = v
				case <-stop:
					return
				case <-s.done:
					// Over: the goroutine must not wait for a reader that
					// may never come. The newest state is kept: an unread
					// older one in the buffer gives way to it.
					select {
					case <-ch:
					default:
					}
					select {
					case ch <- v:
						sent = v
					default:
					}
				}
				continue
			}
			over, wake := s.over, s.wake
			s.mu.Unlock()
			if over {
				return
			}
			select {
			case <-wake:
			case <-stop:
				return
			}
		}
	}()
	return ch
}
