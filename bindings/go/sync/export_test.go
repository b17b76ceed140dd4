package sync

// Orphans is how many unreachable leaders and guards c keeps held (gc.go),
// for the H6 tests.
func Orphans(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.orphans)
}

// Dialing says whether c has a connect in progress (first use or Init),
// for the tests of calls made during one.
func Dialing(c *Client) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialing != nil
}

// CallsInFlight says whether c has a native call in progress (an Init
// reconfiguring a connected Sync is one).
func CallsInFlight(c *Client) bool { return c.lt.busy() }
