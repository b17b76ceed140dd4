//go:build vinesync_test

package sync

// -tags vinesync_test: the test build of the library that `make go-lib`
// copies to lib/ (it has the vs_sync_fault_* functions of faults.go); used
// by this repository's tests, demos and fault workers.

// #cgo LDFLAGS: ${SRCDIR}/../lib/libvinesync.a -lpthread -ldl -lm
import "C"
