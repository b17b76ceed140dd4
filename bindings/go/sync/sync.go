// Package sync is vine's lib/sync interface (v1.5) implemented by vinesync:
// distributed locks and leader election on etcd or in memory, over the
// vinesync C library (cgo, linked statically).
//
// Switching from vine means changing import lines only:
// github.com/vine-io/vine/lib/sync → github.com/vinesync/vinesync/bindings/go/sync
// github.com/vine-io/plugins/sync/etcd → github.com/vinesync/vinesync/bindings/go/etcd
package sync

import "context"

// Role is a member's role.
type Role string

const (
	Primary Role = "primary"
	Follow  Role = "follow"
)

// Sync is an interface for distributed synchronization.
type Sync interface {
	// Init Initialise options
	Init(...Option) error
	// Options Return the options
	Options() Options
	// Leader Elect a leader
	Leader(ctx context.Context, name string, opts ...LeaderOption) (Leader, error)
	// ListMembers get all election member
	ListMembers(ctx context.Context, opts ...ListMembersOption) ([]*Member, error)
	// WatchElect watch leader event
	WatchElect(ctx context.Context, opts ...WatchElectOption) (ElectWatcher, error)
	// Lock acquires a lock
	Lock(ctx context.Context, id string, opts ...LockOption) error
	// Unlock releases a lock
	Unlock(ctx context.Context, id string) error
	// String Sync implementation
	String() string
}

// Member is one candidate of an election.
type Member struct {
	Leader    string `json:"leader"`
	Id        string `json:"id"`
	Namespace string `json:"namespace"`
	Role      Role   `json:"role"`
}

// ObserveResult is a new primary of a namespace.
type ObserveResult struct {
	Namespace string `json:"namespace"`
	Id        string `json:"id"`
}

// Leader provides leadership election.
type Leader interface {
	// Id leader node
	Id() string
	// Resign resigns leadership
	Resign() error
	// Observe watch leadership event
	Observe() chan ObserveResult
	// Primary get the info of primary role
	Primary() (*Member, error)
	// Status returns true when elected and false when leadership is lost
	Status() chan bool
}

// ElectWatcher watch election event.
type ElectWatcher interface {
	// Next is a blocking call
	Next() (*Member, error)
	Close()
}
