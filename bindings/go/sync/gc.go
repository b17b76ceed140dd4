package sync

import "log"

// Garbage collection (SPEC H6): a finalizer never releases a lock or a
// candidacy the program can still reach. Leaders, guards and watchers keep
// their Sync alive, and the Sync can still unlock a guard's lock by id and
// lists a leader's candidacy, so an unreachable leader or guard of an open
// Sync keeps what it holds (as vine does) until the Sync is closed; a
// leader whose candidacy is already over, or a guard whose lock was
// released (by Unlock(id) or the Sync's Close), holds nothing and is freed
// at once. Only an unreachable Sync releases, and logs what it held.

// orphan hands the free of an unreachable leader or guard to its Sync,
// which runs it on Close. False when the Sync is already closed (nothing is
// held any more; the caller frees at once).
func (c *Client) orphan(free func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lt.isClosed() {
		return false
	}
	c.children--
	c.orphans = append(c.orphans, free)
	return true
}

func finalizeClient(c *Client) {
	c.mu.Lock()
	what := c.holdingLocked()
	c.mu.Unlock()
	if what != "" && !c.lt.isClosed() {
		log.Printf("vinesync: a %s Sync that was never closed became unreachable holding %s: released", c.backend, what)
	}
	go c.Close() // it may wait on etcd: not on the finalizer goroutine
}

func finalizeGuard(g *Guard) {
	if g.lt.isClosed() {
		return
	}
	native := g.g
	free := func() { freeGuard(native) }
	if guardReleased(native) {
		// Released by the Sync's Unlock(id) (or its Close): nothing is
		// held, so nothing waits for the Sync's Close (a LockGuard,
		// Unlock(id), drop loop must not pile up native handles).
		g.c.disown()
		go free()
		return
	}
	if !g.c.orphan(free) {
		go free() // releases before it returns (nothing is held once the Sync closed)
	}
}

func finalizeLeader(l *Candidate) {
	if l.lt.isClosed() {
		return
	}
	cd := l.candidacy // not l: the free runs after l is gone
	free := func() { cd.free() }
	select {
	case <-l.ended:
		// The candidacy is over (resigned, lost): nothing is held, so
		// nothing waits for the Sync's Close (vine's Leader has no Close:
		// a Leader, Resign, drop loop must not pile up native handles).
		l.c.disown()
		go free()
		return
	default:
	}
	if !l.c.orphan(free) {
		go free()
	}
}

func finalizeWatcher(w *Watcher) { go w.Close() }
