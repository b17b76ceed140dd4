package sync

/*
#cgo CFLAGS: -I${SRCDIR}/include
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import (
	"context"
	"fmt"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"
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

// freeError frees an error object. Taking the address of a copy here, not
// of the caller's variable, keeps that variable off the heap: a call that
// succeeds allocates nothing for its error.
func freeError(cerr *C.vs_error) { C.vs_error_free(&cerr) }

// toError turns a status and its error object (freed here) into an *Error.
func toError(status C.vs_status, cerr *C.vs_error, ctx context.Context) error {
	if status == C.VS_OK {
		return nil
	}
	if status == C.VS_LOCK_TIMEOUT {
		// vine programs compare with ==: the bare sentinel, as vine returns it.
		freeError(cerr)
		return ErrLockTimeout
	}
	message := "vinesync error"
	if cerr != nil {
		message = C.GoString(C.vs_error_message(cerr))
		freeError(cerr)
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

// noNUL refuses a string argument with a NUL byte, which C would cut
// there (another lock, name or prefix than the one given): what names the
// argument, and the value is quoted unless it is secret.
func noNUL(what string, s string, secret bool) error {
	if !strings.ContainsRune(s, 0) {
		return nil
	}
	if secret {
		return &Error{Kind: ErrInvalidArgument, Message: what + " contains a NUL byte"}
	}
	return &Error{Kind: ErrInvalidArgument, Message: fmt.Sprintf("%s %q contains a NUL byte", what, s)}
}

// noNULs is noNUL over (what, value) pairs, the first failure.
func noNULs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := noNUL(pairs[i], pairs[i+1], false); err != nil {
			return err
		}
	}
	return nil
}

// millis is d in whole milliseconds for C, rounded up: a positive
// duration under 1 ms must not become 0, which C reads as "default" or
// "no limit".
func millis(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return C.uint64_t(ms)
}

// goCString is s NUL-terminated in Go memory, for an argument the native
// side reads only during the call (cgo lets a call read Go memory that
// holds no Go pointers): no C.CString, whose malloc and free are two more
// native calls. Keep it alive until the call returns (runtime.KeepAlive).
func goCString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// ptr is the C view of a goCString.
func ptr(b []byte) *C.char { return (*C.char)(unsafe.Pointer(&b[0])) }

// Call tokens never fired are kept for the next call, so that a call that
// completes at once makes no native call and no allocation for its token.
// A fired one is freed. At most spareTokensKept are kept (for the
// process's life).
var spareTokens struct {
	mu   gosync.Mutex
	list []*callToken
}

const spareTokensKept = 64

func takeToken() *callToken {
	spareTokens.mu.Lock()
	if n := len(spareTokens.list); n > 0 {
		token := spareTokens.list[n-1]
		spareTokens.list = spareTokens.list[:n-1]
		spareTokens.mu.Unlock()
		return token
	}
	spareTokens.mu.Unlock()
	return &callToken{cancel: C.vs_cancel_new()}
}

// returnToken takes back a token no call uses any more (nothing can fire
// it: its wakers are removed and its context callback stopped).
func returnToken(token *callToken) {
	if token.cancel == nil {
		return // vs_cancel_new failed: nothing to keep or free
	}
	if !token.fired.Load() {
		token.cerr = nil // taken by outcome, which frees it
		spareTokens.mu.Lock()
		kept := len(spareTokens.list) < spareTokensKept
		if kept {
			spareTokens.list = append(spareTokens.list, token)
		}
		spareTokens.mu.Unlock()
		if kept {
			return
		}
	}
	freeToken(token.cancel)
}

func freeToken(token *C.vs_cancel) { C.vs_cancel_free(&token) }

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
				freeError(cerr)
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
	if parent != nil {
		if err := parent.enter(); err != nil {
			return err
		}
		defer parent.leave()
	}
	if own != nil {
		if err := own.enter(); err != nil {
			return err
		}
		defer own.leave()
	}
	if own == nil && parent == nil && ctx.Done() == nil {
		// Nothing could ever fire a token: the call gets none.
		var cerr *C.vs_error
		status := call(nil, &cerr)
		return outcome(ctx, status, cerr, nil, nil)
	}
	token := takeToken()
	ownWaker, parentWaker := own.addWaker(token), parent.addWaker(token)
	stopCtx := func() {}
	if ctx.Done() != nil {
		done := make(chan struct{})
		stop := context.AfterFunc(ctx, func() { token.fire(); close(done) })
		stopCtx = func() {
			if !stop() {
				<-done // the token must outlive the fire
			}
		}
	}
	if ctx.Err() != nil {
		// Done already: the token is fired before the call, as C expects
		// (a release still runs, SPEC H2), not raced by AfterFunc's
		// goroutine (a call on memory could finish first).
		token.fire()
	}
	// The error slot is the token's: a local whose address goes to C would
	// be allocated on every call.
	status := call(token.cancel, &token.cerr)
	stopCtx()
	own.removeWaker(ownWaker)
	parent.removeWaker(parentWaker)
	cerr := token.cerr
	// Nothing can fire the token any more: whether it fired is final.
	returnToken(token)
	return outcome(ctx, status, cerr, own, parent)
}

// callToken is the cancel token of one blocking call, whether it fired,
// and the slot the call writes its error object to. C gets &cerr, so cgo
// checks the whole struct: it must never hold a Go pointer.
type callToken struct {
	cancel *C.vs_cancel
	fired  atomic.Bool
	cerr   *C.vs_error
}

func (t *callToken) fire() {
	t.fired.Store(true)
	C.vs_cancel_fire(t.cancel)
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
