// Package memory makes vinesync Syncs on the in-process store (vine's
// lib/sync/memory): every memory Sync of a process shares it.
package memory

import "github.com/vinesync/vinesync/bindings/go/sync"

// NewSync returns a Sync on the process-wide memory store (a *sync.Client,
// assignable to vine's sync.Sync).
func NewSync(opts ...sync.Option) *sync.Client {
	return sync.New("memory", opts...)
}
