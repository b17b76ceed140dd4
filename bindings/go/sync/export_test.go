package sync

// Orphans is how many unreachable leaders and guards c keeps held (gc.go),
// for the H6 tests.
func Orphans(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.orphans)
}
