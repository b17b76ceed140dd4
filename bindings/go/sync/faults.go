// Fault injection exists only in the test build of libvinesync: build and
// test with -tags vinesync_test (make test-go does).

//go:build vinesync_test

package sync

/*
#include <vinesync_test.h>
*/
import "C"

import "context"

// FaultSuspendKeepalive stops (or resumes) the handle's lease keepalives,
// as a paused or partitioned process would: its locks are lost after their
// TTL. For tests only.
func (c *Client) FaultSuspendKeepalive(suspended bool) error {
	h, err := c.handle(context.Background())
	if err != nil {
		return err
	}
	defer c.leave()
	err = plain(func(e **C.vs_error) C.vs_status { return C.vs_sync_fault_suspend_keepalive(h, C.bool(suspended), e) })
	return err
}

// FaultCrash simulates kill -9 of the handle's process: nothing is
// released, its leases expire after their TTL. For tests only.
func (c *Client) FaultCrash() error {
	h, err := c.handle(context.Background())
	if err != nil {
		return err
	}
	defer c.leave()
	err = plain(func(e **C.vs_error) C.vs_status { return C.vs_sync_fault_crash(h, e) })
	return err
}

// FaultExpireLeases makes the handle's leases vanish from the store now,
// without telling the handle. For tests only.
func (c *Client) FaultExpireLeases() error {
	h, err := c.handle(context.Background())
	if err != nil {
		return err
	}
	defer c.leave()
	err = plain(func(e **C.vs_error) C.vs_status { return C.vs_sync_fault_expire_leases(h, e) })
	return err
}
