// Package etcd makes vinesync Syncs on etcd (vine's plugins/sync/etcd).
package etcd

import "github.com/vinesync/vinesync/bindings/go/sync"

// NewSync returns a Sync on etcd; it connects on Init. Nodes default to
// $VINESYNC_NODES, then 127.0.0.1:2379. The result is a *sync.Client, so
// vinesync's extensions (TryLock, LockGuard, Elect, Watch, Close) need no
// type assertion; it is assignable to vine's sync.Sync.
func NewSync(opts ...sync.Option) *sync.Client {
	return sync.New("etcd", opts...)
}
