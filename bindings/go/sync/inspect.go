package sync

/*
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import "context"

// LockEntry is one acquisition of a lock, holding or waiting.
type LockEntry struct {
	Key          string // the key it wrote
	FencingToken uint64 // the token it has or will have (the key's create revision)
	Lease        int64  // the lease the key is attached to
	Host         string // host of the process ("" when not written by vinesync)
	Pid          uint32 // process id (0 when not written by vinesync)
	Handle       string // the vinesync handle's id ("" when not written by vinesync)
	Value        string // the raw value of a key written by another tool ("" otherwise)
}

// LockInfo is a lock's holder (nil when free) and its waiters, next first.
type LockInfo struct {
	ID      string
	Holder  *LockEntry
	Waiters []LockEntry
}

// LockInfo reads who holds lock id and who waits for it. It writes nothing.
func (c *Client) LockInfo(ctx context.Context, id string) (*LockInfo, error) {
	if err := noNUL("lock id", id, false); err != nil {
		return nil, err
	}
	h, err := c.handle(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave()
	cid := C.CString(id)
	defer free(cid)
	var info *C.vs_lock_info
	err = blocking(ctx, c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_inspect_lock(h, cid, cancel, &info, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.vs_lock_info_free(&info)
	out := &LockInfo{ID: id}
	if holder := C.vs_lock_info_holder(info); holder != nil {
		entry := lockEntryFrom(holder)
		out.Holder = &entry
	}
	n := int(C.vs_lock_info_waiter_count(info))
	out.Waiters = make([]LockEntry, 0, n)
	for i := 0; i < n; i++ {
		out.Waiters = append(out.Waiters, lockEntryFrom(C.vs_lock_info_waiter(info, C.size_t(i))))
	}
	return out, nil
}

func lockEntryFrom(e *C.vs_lock_entry) LockEntry {
	return LockEntry{
		Key:          C.GoString(C.vs_lock_entry_key(e)),
		FencingToken: uint64(C.vs_lock_entry_fencing_token(e)),
		Lease:        int64(C.vs_lock_entry_lease(e)),
		Host:         C.GoString(C.vs_lock_entry_host(e)),
		Pid:          uint32(C.vs_lock_entry_pid(e)),
		Handle:       C.GoString(C.vs_lock_entry_handle(e)),
		Value:        C.GoString(C.vs_lock_entry_value(e)),
	}
}
