package sync

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#cgo LDFLAGS: ${SRCDIR}/../lib/libvinesync.a -lpthread -ldl -lm
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import (
	"context"
	gosync "sync"
	"unsafe"
)

var kinds = map[C.vs_status]error{
	C.VS_INVALID_ARGUMENT:  ErrInvalidArgument,
	C.VS_LOCK_TIMEOUT:      ErrLockTimeout,
	C.VS_WOULD_BLOCK:       ErrWouldBlock,
	C.VS_NOT_LOCKED:        ErrNotLocked,
	C.VS_NO_LEADER:         ErrNoLeader,
	C.VS_CANCELLED:         ErrCancelled,
	C.VS_UNAVAILABLE:       ErrUnavailable,
	C.VS_LOST:              ErrLost,
	C.VS_CLOSED:            ErrClosed,
	C.VS_UNAUTHENTICATED:   ErrUnauthenticated,
	C.VS_PERMISSION_DENIED: ErrPermissionDenied,
	C.VS_INTERNAL:          ErrInternal,
	C.VS_TIMED_OUT:         ErrTimedOut,
}

// toError turns a status and its error object (freed here) into an *Error.
func toError(status C.vs_status, cerr *C.vs_error, ctx context.Context) error {
	if status == C.VS_OK {
		return nil
	}
	message := "vinesync error"
	if cerr != nil {
		message = C.GoString(C.vs_error_message(cerr))
		C.vs_error_free(&cerr)
	}
	kind, ok := kinds[status]
	if !ok {
		kind = ErrInternal
	}
	e := &Error{Kind: kind, Message: message}
	if status == C.VS_CANCELLED && ctx != nil {
		e.Cause = ctx.Err()
	}
	return e
}

// cstr is a C copy of s; free it with C.free.
func cstr(s string) *C.char { return C.CString(s) }

// optional is NULL for "" (the C API's "use the default").
func optional(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func free(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// withCancel runs a blocking native call whose cancel token fires when ctx
// is done, and waits for the watcher goroutine before freeing the token.
func withCancel(ctx context.Context, call func(cancel *C.vs_cancel, cerr **C.vs_error) C.vs_status) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cancel := C.vs_cancel_new()
	done := make(chan struct{})
	var wg gosync.WaitGroup
	if ctx.Done() != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ctx.Done():
				C.vs_cancel_fire(cancel)
			case <-done:
			}
		}()
	}
	var cerr *C.vs_error
	status := call(cancel, &cerr)
	close(done)
	wg.Wait()
	C.vs_cancel_free(&cancel)
	return toError(status, cerr, ctx)
}

// plain runs a native call without cancellation.
func plain(call func(cerr **C.vs_error) C.vs_status) error {
	var cerr *C.vs_error
	status := call(&cerr)
	return toError(status, cerr, nil)
}

func memberFrom(m *C.vs_member) *Member {
	role := Follow
	if C.vs_member_is_primary(m) {
		role = Primary
	}
	return &Member{
		Leader:    C.GoString(C.vs_member_leader(m)),
		Id:        C.GoString(C.vs_member_id(m)),
		Namespace: C.GoString(C.vs_member_namespace(m)),
		Role:      role,
	}
}
