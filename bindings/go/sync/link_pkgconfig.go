//go:build !vinesync_test && !vinesync_bundled

package sync

// The library as `make install` installs it, found by pkg-config (as
// git2go finds libgit2); PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig for a
// prefix of your own.

// #cgo pkg-config: vinesync
import "C"
