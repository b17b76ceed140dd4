package sync

import "time"

// Options are the handle-wide options (vine's Prefix and Nodes, plus the
// connection settings vine lacks).
type Options struct {
	Nodes          []string
	Prefix         string
	DialTimeout    time.Duration
	RequestTimeout time.Duration
	CAFile         string
	CertFile       string
	KeyFile        string
	ServerName     string
	User           string
	Password       string
	// Layout is the key layout: "" or "vinesync" (the default), or "vine"
	// (vine 1.5's keys, for a fleet that still runs vine processes).
	Layout string
}

// Option sets an Options field.
type Option func(o *Options)

// Nodes sets the etcd endpoints (default 127.0.0.1:2379, or VINESYNC_NODES).
func Nodes(a ...string) Option { return func(o *Options) { o.Nodes = a } }

// Prefix sets the prefix of every key (default /vine/sync).
func Prefix(p string) Option { return func(o *Options) { o.Prefix = p } }

// VineLayout puts locks and candidates where vine 1.5's etcd plugin does,
// so vine processes and vinesync processes exclude each other during a
// rolling migration (README, "Migrating from vine"). The prefix is then
// vine's Prefix as given: without Prefix (or VINESYNC_PREFIX) it is empty,
// as in vine.
func VineLayout() Option { return Layout("vine") }

// DefaultLayout selects vinesync's own layout explicitly, over
// VINESYNC_LAYOUT (as C's vs_options_set_layout and Python's
// layout="vinesync" can).
func DefaultLayout() Option { return Layout("vinesync") }

// Layout selects the key layout by name: "vinesync" or "vine" (any other
// name is ErrInvalidArgument from Init, naming it).
func Layout(name string) Option { return func(o *Options) { o.Layout = name } }

// Timeouts sets the dial and request timeouts.
func Timeouts(dial, request time.Duration) Option {
	return func(o *Options) { o.DialTimeout, o.RequestTimeout = dial, request }
}

// TLS sets the CA file, client certificate and key, and server name.
func TLS(caFile, certFile, keyFile, serverName string) Option {
	return func(o *Options) {
		o.CAFile, o.CertFile, o.KeyFile, o.ServerName = caFile, certFile, keyFile, serverName
	}
}

// Credentials sets the etcd user and password.
func Credentials(user, password string) Option {
	return func(o *Options) { o.User, o.Password = user, password }
}

// LeaderOptions are vine's LeaderNS, LeaderId and LeaderTTL.
type LeaderOptions struct {
	Namespace string
	Id        string
	TTL       int64
}

// LeaderOption sets a LeaderOptions field.
type LeaderOption func(o *LeaderOptions)

// LeaderNS sets the election namespace (default "default").
func LeaderNS(ns string) LeaderOption { return func(o *LeaderOptions) { o.Namespace = ns } }

// LeaderId sets the candidate id (default: a new UUID).
func LeaderId(id string) LeaderOption { return func(o *LeaderOptions) { o.Id = id } }

// LeaderTTL sets the candidacy's lease TTL in seconds (default 60).
func LeaderTTL(ttl int64) LeaderOption { return func(o *LeaderOptions) { o.TTL = ttl } }

// ListMembersOptions is vine's MemberNS.
type ListMembersOptions struct{ Namespace string }

// ListMembersOption sets a ListMembersOptions field.
type ListMembersOption func(o *ListMembersOptions)

// MemberNS sets the namespace to list (default "default").
func MemberNS(ns string) ListMembersOption { return func(o *ListMembersOptions) { o.Namespace = ns } }

// WatchElectOptions are vine's WatchNS and WatchId.
type WatchElectOptions struct {
	Namespace string
	Id        string
}

// WatchElectOption sets a WatchElectOptions field.
type WatchElectOption func(o *WatchElectOptions)

// WatchNS sets the namespace to watch (default "default").
func WatchNS(ns string) WatchElectOption { return func(o *WatchElectOptions) { o.Namespace = ns } }

// WatchId restricts the events to one member (default: every member).
func WatchId(id string) WatchElectOption { return func(o *WatchElectOptions) { o.Id = id } }

// LockOptions are vine's LockTTL and LockWait.
type LockOptions struct {
	TTL  time.Duration
	Wait time.Duration
}

// LockOption sets a LockOptions field.
type LockOption func(o *LockOptions)

// LockTTL sets the lock's lease TTL (default 60 s, at least 1 s).
func LockTTL(t time.Duration) LockOption { return func(o *LockOptions) { o.TTL = t } }

// LockWait sets how long Lock may wait (0 = until ctx is done).
func LockWait(t time.Duration) LockOption { return func(o *LockOptions) { o.Wait = t } }
