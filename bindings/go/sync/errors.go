package sync

import "errors"

// ErrLockTimeout is vine's error for a LockWait that ran out.
var ErrLockTimeout = errors.New("lock timeout")

// One sentinel per error kind of the vinesync SPEC; compare with errors.Is.
var (
	ErrInvalidArgument  = errors.New("invalid argument")
	ErrWouldBlock       = errors.New("would block")
	ErrNotLocked        = errors.New("not locked")
	ErrNoLeader         = errors.New("no leader")
	ErrCancelled        = errors.New("cancelled")
	ErrUnavailable      = errors.New("unavailable")
	ErrLost             = errors.New("lost")
	ErrClosed           = errors.New("closed")
	ErrUnauthenticated  = errors.New("unauthenticated")
	ErrPermissionDenied = errors.New("permission denied")
	ErrInternal         = errors.New("internal error")
	// ErrTimedOut: a wait with its own timeout (not LockWait) ran out.
	ErrTimedOut = errors.New("timed out")
)

// Error is what every vinesync call returns on failure: errors.Is(err,
// ErrX) tells the kind; Error() is the library's message.
type Error struct {
	Kind    error
	Message string
	// Cause is the context error when the call ended because ctx was done.
	Cause error
}

func (e *Error) Error() string { return e.Message }

// Is reports the kind (and the context error, if any).
func (e *Error) Is(target error) bool {
	return target == e.Kind || (e.Cause != nil && errors.Is(e.Cause, target))
}

// Unwrap gives the kind.
func (e *Error) Unwrap() error { return e.Kind }
