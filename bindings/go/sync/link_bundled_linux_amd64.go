//go:build vinesync_bundled

package sync

// -tags vinesync_bundled: the stripped release static library that the
// release module zip carries under lib/linux_amd64 (make go-release-zip);
// no pkg-config, no Rust toolchain.

// #cgo LDFLAGS: ${SRCDIR}/../lib/linux_amd64/libvinesync.a -lpthread -ldl -lm
import "C"
