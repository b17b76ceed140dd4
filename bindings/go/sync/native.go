package sync

/*
#cgo CFLAGS: -I${SRCDIR}/include
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import (
	"context"
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
	if status == C.VS_LOCK_TIMEOUT {
		// vine programs compare with ==: the bare sentinel, as vine returns it.
		C.vs_error_free(&cerr)
		return ErrLockTimeout
	}
	message := "vinesync error"
	if cerr != nil {
		message = C.GoString(C.vs_error_message(cerr))
		C.vs_error_free(&cerr)
	} else if status == C.VS_CANCELLED && ctx != nil && ctx.Err() != nil {
		message = "cancelled: " + ctx.Err().Error()
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

// outcome is how a call ended: ErrClosed when it was cut short (cancelled,
// or its lock or candidacy gone) because one of its handles started
// closing, else its own status.
func outcome(ctx context.Context, status C.vs_status, cerr *C.vs_error, own, parent *lifetime) error {
	cutShort := status == C.VS_CANCELLED || status == C.VS_LOST || status == C.VS_CLOSED
	if cutShort && ctx.Err() == nil {
		for _, l := range []*lifetime{own, parent} {
			if l != nil && l.isClosed() {
				C.vs_error_free(&cerr)
				return l.closedError()
			}
		}
	}
	return toError(status, cerr, ctx)
}

// blocking runs a native call that takes a cancel token, as one call in
// flight on its handle (own) and the Sync it comes from (parent; either may
// be nil). The token fires when ctx is done or either handle starts
// closing: a call woken by a close returns ErrClosed (SPEC H1), one woken
// by ctx ErrCancelled that is also errors.Is ctx.Err(). No goroutine is
// started for it (context.AfterFunc only when ctx can be done).
func blocking(ctx context.Context, own, parent *lifetime, call func(cancel *C.vs_cancel, cerr **C.vs_error) C.vs_status) error {
	if ctx == nil {
		ctx = context.Background()
	}
	leave, err := enterAll(parent, own)
	if err != nil {
		return err
	}
	defer leave()
	cancel := C.vs_cancel_new()
	fire := func() { C.vs_cancel_fire(cancel) }
	var forget []func()
	for _, l := range []*lifetime{own, parent} {
		if l != nil {
			forget = append(forget, l.onClose(fire))
		}
	}
	stopCtx := func() {}
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() { fire(); close(fired) })
		stopCtx = func() {
			if !stop() {
				<-fired // the token must outlive the fire
			}
		}
	}
	var cerr *C.vs_error
	status := call(cancel, &cerr)
	stopCtx()
	for _, f := range forget {
		f()
	}
	C.vs_cancel_free(&cancel)
	return outcome(ctx, status, cerr, own, parent)
}

// plain runs a native call that neither blocks nor needs a handle's lifetime.
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
