package sync

/*
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	gosync "sync"
	"time"
)

// Client is vinesync's Sync: made by etcd.NewSync or memory.NewSync.
// Safe for concurrent use. Close releases everything it holds and wakes
// every call blocked in it, or in its leaders, guards and watchers, with
// ErrClosed (SPEC H1).
type Client struct {
	backend  string       // "etcd" or "memory"
	initMu   gosync.Mutex // one Init at a time
	mu       gosync.Mutex
	opts     Options // as given and in effect (vine's Options() returns them)
	defaults Options // VINESYNC_* settings over vine's defaults
	envErr   error   // a VINESYNC_* setting that could not be read
	h        *C.vs_sync
	lt       *lifetime
	held     map[string]int // ids taken with Lock and not yet unlocked
	children int            // open leaders, guards and watchers made from it
	orphans  []func()       // frees of unreachable held leaders and guards (gc.go)
	dialing  *dial          // a connect in progress (etcd: first use or Init)
}

// dial is a connect in progress (first use or Init), shared by the calls
// that wait for it.
type dial struct {
	done    chan struct{}      // closed when it is over
	err     error              // its failure, read once done is closed
	started time.Time          // when it began
	cancel  context.CancelFunc // stops it (Close)
}

// New makes a Client for backend "etcd" or "memory"; it connects on Init
// (or on first use). Options not given (or given empty) default to the
// VINESYNC_* environment variables (see optionsFromEnv), then vine's
// defaults.
func New(backend string, opts ...Option) *Client {
	defaults, envErr := optionsFromEnv()
	c := &Client{backend: backend, defaults: defaults, envErr: envErr, lt: newLifetime("sync handle"), held: map[string]int{}}
	for _, opt := range opts {
		opt(&c.opts)
	}
	runtime.SetFinalizer(c, finalizeClient)
	return c
}

// Init applies options and connects. On a connected Sync it reconfigures
// in place (vs_sync_init): the locks and candidacies it holds keep their
// keys, new calls use the new options; on etcd a change of nodes,
// timeouts, TLS or credentials reconnects. One Init runs at a time; other
// calls do not wait behind it: a call made during Init's connect waits for
// that connect as for a first-use one (its ctx still counts), and calls
// run beside a reconfiguration as beside any call in flight.
func (c *Client) Init(opts ...Option) error {
	if err := c.checkMade(); err != nil {
		return err
	}
	c.initMu.Lock()
	defer c.initMu.Unlock()
	c.mu.Lock()
	for c.dialing != nil { // a first-use connect: let it finish first
		d := c.dialing
		c.mu.Unlock()
		<-d.done
		c.mu.Lock()
	}
	if c.lt.isClosed() {
		c.mu.Unlock()
		return c.lt.closedError()
	}
	// In effect (and shown by Options) once applied: a failed Init keeps
	// the options it found.
	next := c.opts
	for _, opt := range opts {
		opt(&next)
	}
	adopt := func() { c.opts = next } // with c.mu held
	switch {
	case c.h == nil && c.backend == "memory":
		err := c.connectLocked(next)
		if err == nil {
			adopt()
		}
		c.mu.Unlock()
		return err
	case c.h == nil:
		d := c.startDialLocked(next, adopt)
		c.mu.Unlock()
		<-d.done
		if c.lt.isClosed() {
			// Close stopped the connect, or came as it ended: the Sync
			// is closed either way.
			return c.lt.closedError()
		}
		return d.err
	default:
		return c.reconfigureUnlocking(next, adopt)
	}
}

// reconfigureUnlocking applies next to the connected handle; called with
// c.mu held, it releases it for the reconfiguration (which may reconnect)
// and runs adopt under it if that succeeds. Counted as a call in flight,
// so Close wakes it and waits for it.
func (c *Client) reconfigureUnlocking(next Options, adopt func()) error {
	o, err := c.nativeOptions(next)
	if err == nil {
		err = c.lt.enter()
		if err != nil {
			C.vs_options_free(&o)
		}
	}
	if err != nil {
		c.mu.Unlock()
		return err
	}
	h := c.h
	c.mu.Unlock()
	defer c.leave()
	err = blocking(context.Background(), c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_sync_init(h, o, cancel, e)
	})
	C.vs_options_free(&o)
	if err == nil {
		c.mu.Lock()
		adopt()
		c.mu.Unlock()
	}
	return err
}

// effective is the options to connect with: o, the defaults where they
// are empty.
func (c *Client) effective(o Options) Options {
	var nodes []string
	for _, n := range o.Nodes {
		if n = strings.TrimSpace(n); n != "" {
			nodes = append(nodes, n)
		}
	}
	o.Nodes = nodes
	if len(o.Nodes) == 0 {
		o.Nodes = c.defaults.Nodes
	}
	if o.Layout == "" {
		o.Layout = c.defaults.Layout
	}
	if o.Prefix == "" && (o.Layout != "vine" || os.Getenv("VINESYNC_PREFIX") != "") {
		o.Prefix = c.defaults.Prefix
	} // else vine's layout with vine's default prefix: empty
	if o.Layout == "" {
		o.Layout = "vinesync"
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = c.defaults.DialTimeout
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = c.defaults.RequestTimeout
	}
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" && o.ServerName == "" {
		o.CAFile, o.CertFile, o.KeyFile, o.ServerName = c.defaults.CAFile, c.defaults.CertFile, c.defaults.KeyFile, c.defaults.ServerName
	}
	if o.User == "" {
		o.User, o.Password = c.defaults.User, c.defaults.Password
	}
	return o
}

// nativeOptions builds the vs_options of the effective options of given;
// free them with vs_options_free.
func (c *Client) nativeOptions(given Options) (*C.vs_options, error) {
	if c.envErr != nil {
		return nil, c.envErr
	}
	opts := c.effective(given)
	var o *C.vs_options
	if err := plain(func(e **C.vs_error) C.vs_status { return C.vs_options_new(&o, e) }); err != nil {
		return nil, err
	}
	if err := setOptions(o, opts); err != nil {
		C.vs_options_free(&o)
		return nil, err
	}
	return o, nil
}

func setOptions(o *C.vs_options, opts Options) error {
	set := func(f func(e **C.vs_error) C.vs_status) error { return plain(f) }
	if err := noNULs("Prefix", opts.Prefix, "Layout", opts.Layout, "CAFile", opts.CAFile,
		"CertFile", opts.CertFile, "KeyFile", opts.KeyFile, "ServerName", opts.ServerName,
		"User", opts.User); err != nil {
		return err
	}
	// Not echoed: a node may carry user:password@ (refused by the core,
	// which does not echo it either).
	if err := noNUL("Nodes", strings.Join(opts.Nodes, ","), true); err != nil {
		return err
	}
	if err := noNUL("Password", opts.Password, true); err != nil {
		return err
	}
	prefix, nodes := cstr(opts.Prefix), cstr(strings.Join(opts.Nodes, ","))
	defer free(prefix)
	defer free(nodes)
	if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_prefix(o, prefix, e) }); err != nil {
		return err
	}
	if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_nodes(o, nodes, e) }); err != nil {
		return err
	}
	layout := cstr(opts.Layout)
	defer free(layout)
	if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_layout(o, layout, e) }); err != nil {
		return err
	}
	dial, req := millis(opts.DialTimeout), millis(opts.RequestTimeout)
	if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_timeouts(o, dial, req, e) }); err != nil {
		return err
	}
	if opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != "" || opts.ServerName != "" {
		ca, cert, key, name := optional(opts.CAFile), optional(opts.CertFile), optional(opts.KeyFile), optional(opts.ServerName)
		defer free(ca)
		defer free(cert)
		defer free(key)
		defer free(name)
		if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_tls(o, ca, cert, key, name, e) }); err != nil {
			return err
		}
	}
	if opts.User != "" {
		user, pass := cstr(opts.User), cstr(opts.Password)
		defer free(user)
		defer free(pass)
		if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_credentials(o, user, pass, e) }); err != nil {
			return err
		}
	}
	return nil
}

// connectLocked makes the memory store's handle (etcd's connects on a
// goroutine of its own: startDialLocked).
func (c *Client) connectLocked(opts Options) error {
	o, err := c.nativeOptions(opts)
	if err != nil {
		return err
	}
	defer C.vs_options_free(&o)
	return plain(func(e **C.vs_error) C.vs_status { return C.vs_sync_new_memory(o, &c.h, e) })
}

// handle connects on first use (vine users call Init first; tolerate not)
// and admits one call in flight: call c.leave when it is over. On etcd the
// connect runs once, without c.mu held, for every call waiting on it, and
// each call stops waiting when its ctx is done (ErrCancelled); the connect
// goes on for the next call, bounded by the dial timeout.
func (c *Client) handle(ctx context.Context) (*C.vs_sync, error) {
	if err := c.checkMade(); err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	cancelled := func() error {
		return &Error{Kind: ErrCancelled, Cause: ctx.Err(),
			Message: "cancelled while connecting to etcd: " + ctx.Err().Error()}
	}
	waiting := time.Now()
	for {
		c.mu.Lock()
		if err := c.lt.enter(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		if c.h == nil && c.backend == "memory" {
			if err := c.connectLocked(c.opts); err != nil {
				c.lt.leave()
				c.mu.Unlock()
				return nil, err
			}
		}
		if h := c.h; h != nil {
			c.mu.Unlock()
			return h, nil
		}
		if ctx.Err() != nil {
			c.lt.leave()
			c.mu.Unlock()
			return nil, cancelled()
		}
		d := c.dialing
		if d == nil {
			d = c.startDialLocked(c.opts, nil)
		}
		c.lt.leave()
		closing := c.lt.closingSignal()
		c.mu.Unlock()
		select {
		case <-d.done:
			// A failed connect that began before this call did is not
			// this call's whole try: it starts (or joins) another.
			if d.err != nil && !d.started.Before(waiting) {
				return nil, d.err
			}
		case <-closing:
			return nil, c.lt.closedError()
		case <-ctx.Done():
			return nil, cancelled()
		}
	}
}

// startDialLocked connects to etcd with opts on a goroutine of its own;
// the handle (or the failure) is there when the dial's done channel
// closes. A success runs onSuccess (if any) under c.mu first.
func (c *Client) startDialLocked(opts Options, onSuccess func()) *dial {
	ctx, cancel := context.WithCancel(context.Background())
	d := &dial{done: make(chan struct{}), started: time.Now(), cancel: cancel}
	c.dialing = d
	o, err := c.nativeOptions(opts)
	go func() {
		defer cancel()
		var h *C.vs_sync
		if err == nil {
			// Bounded by the dial timeout; Close stops it.
			err = blocking(ctx, nil, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
				return C.vs_sync_new_etcd(o, cancel, &h, e)
			})
			C.vs_options_free(&o)
		}
		c.mu.Lock()
		if err == nil {
			c.h = h // freed by Close, also when it came after the dial began
			if onSuccess != nil {
				onSuccess()
			}
		}
		d.err = err
		c.dialing = nil
		c.mu.Unlock()
		close(d.done)
	}()
	return d
}

// checkMade says that c is not a Sync made by New (or etcd.NewSync,
// memory.NewSync): a nil pointer or a zero Client{} gets an error naming
// that instead of a nil dereference.
func (c *Client) checkMade() error {
	if c == nil || c.lt == nil {
		return &Error{Kind: ErrInvalidArgument,
			Message: "sync: a nil or zero-value Client: make it with etcd.NewSync, memory.NewSync or sync.New"}
	}
	return nil
}

// leave ends a call that handle admitted. It also keeps c reachable until
// the call is over: its finalizer would close the handle under the call.
func (c *Client) leave() {
	c.lt.leave()
	runtime.KeepAlive(c)
}

// Options returns the options in effect: as given to NewSync and to the
// last Init that succeeded.
func (c *Client) Options() Options {
	if c.checkMade() != nil {
		return Options{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opts
}

// String is "etcd" or "memory".
func (c *Client) String() string {
	if c == nil {
		return "<nil>"
	}
	return c.backend
}

// Close releases every lock and candidacy of the Sync, wakes the calls
// blocked in it (and in its leaders, guards and watchers) with ErrClosed,
// waits for them and frees the native handle. Idempotent.
func (c *Client) Close() {
	if c.checkMade() != nil {
		return // nothing was ever opened
	}
	c.mu.Lock()
	first := c.lt.close()
	dialing := c.dialing
	c.mu.Unlock()
	if !first {
		c.lt.waitFreed()
		return
	}
	if dialing != nil {
		dialing.cancel()
		<-dialing.done // a first-use connect: a handle it made is freed below
	}
	if c.h != nil {
		C.vs_sync_close(c.h, nil, nil) // releases now; the handle is thread-safe
	}
	c.lt.wait()
	c.mu.Lock()
	orphans := c.orphans
	c.orphans = nil
	c.mu.Unlock()
	for _, free := range orphans {
		free()
	}
	C.vs_sync_free(&c.h)
	c.lt.finish()
}

// track counts the ids held through Lock (delta +1 on Lock, -1 on Unlock).
func (c *Client) track(id string, delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[id]+delta <= 0 {
		delete(c.held, id)
	} else {
		c.held[id] += delta
	}
}

// adopt and disown count the open leaders, guards and watchers.
func (c *Client) adopt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.children++
}

func (c *Client) disown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.children--
}

// holdingLocked says what the Sync holds ("" for nothing).
func (c *Client) holdingLocked() string {
	locks := 0
	for _, n := range c.held {
		locks += n
	}
	var parts []string
	if locks > 0 {
		parts = append(parts, fmt.Sprintf("%d lock(s) taken with Lock", locks))
	}
	if c.children > 0 {
		parts = append(parts, fmt.Sprintf("%d open leader(s), guard(s) or watcher(s)", c.children))
	}
	if len(c.orphans) > 0 {
		parts = append(parts, fmt.Sprintf("%d unreachable leader(s) or guard(s) still held", len(c.orphans)))
	}
	return strings.Join(parts, ", ")
}

func lockOptions(opts []LockOption) (ttl, wait C.uint64_t, err error) {
	o := LockOptions{TTL: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.TTL < 0 || o.Wait < 0 {
		return 0, 0, &Error{Kind: ErrInvalidArgument, Message: fmt.Sprintf("LockTTL %v and LockWait %v must not be negative", o.TTL, o.Wait)}
	}
	return millis(o.TTL), millis(o.Wait), nil
}

// Lock acquires lock id, held by this Sync until Unlock(id). It blocks
// until held, LockWait passes (ErrLockTimeout, the bare sentinel as in
// vine) or ctx is done (ErrCancelled, also errors.Is ctx.Err()); a
// cancelled wait leaves no trace.
func (c *Client) Lock(ctx context.Context, id string, opts ...LockOption) error {
	_, err := c.lock(ctx, id, false, opts)
	return err
}

// LockGuard is Lock returning a Guard (fencing token, lost signal).
func (c *Client) LockGuard(ctx context.Context, id string, opts ...LockOption) (*Guard, error) {
	return c.lock(ctx, id, true, opts)
}

func (c *Client) lock(ctx context.Context, id string, guarded bool, opts []LockOption) (*Guard, error) {
	if err := noNUL("lock id", id, false); err != nil {
		return nil, err
	}
	h, err := c.handle(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave()
	ttl, wait, err := lockOptions(opts)
	if err != nil {
		return nil, err
	}
	cid := goCString(id)
	var g *C.vs_guard
	err = blocking(ctx, c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		if guarded {
			return C.vs_lock(h, ptr(cid), ttl, wait, cancel, &g, e)
		}
		return C.vs_lock(h, ptr(cid), ttl, wait, cancel, nil, e)
	})
	runtime.KeepAlive(cid)
	if err != nil {
		return nil, err
	}
	if !guarded {
		c.track(id, +1)
		return nil, nil
	}
	return c.newGuard(g), nil
}

// TryLock takes lock id only if it is free now (else ErrWouldBlock).
func (c *Client) TryLock(ctx context.Context, id string, opts ...LockOption) (*Guard, error) {
	if err := noNUL("lock id", id, false); err != nil {
		return nil, err
	}
	h, err := c.handle(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave()
	ttl, _, err := lockOptions(opts)
	if err != nil {
		return nil, err
	}
	var g *C.vs_guard
	cid := goCString(id)
	err = blocking(ctx, c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_try_lock(h, ptr(cid), ttl, cancel, &g, e)
	})
	runtime.KeepAlive(cid)
	if err != nil {
		return nil, err
	}
	return c.newGuard(g), nil
}

// Unlock releases the acquisition of id this Sync holds (ErrNotLocked if
// none). When ctx ends first, Unlock returns ErrCancelled and the release
// still completes in the background (SPEC H2).
func (c *Client) Unlock(ctx context.Context, id string) error {
	if err := noNUL("lock id", id, false); err != nil {
		return err
	}
	h, err := c.handle(ctx)
	if err != nil {
		return err
	}
	defer c.leave()
	cid := goCString(id)
	err = blocking(ctx, c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_unlock(h, ptr(cid), cancel, e)
	})
	runtime.KeepAlive(cid)
	if err == nil || errors.Is(err, ErrLost) || errors.Is(err, ErrCancelled) {
		c.track(id, -1) // a cancelled unlock completes in the background
	}
	return err
}

// ListMembers gives the live candidates of MemberNS, primary first.
func (c *Client) ListMembers(ctx context.Context, opts ...ListMembersOption) ([]*Member, error) {
	o := ListMembersOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if err := noNUL("MemberNS", o.Namespace, false); err != nil {
		return nil, err
	}
	h, err := c.handle(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave()
	ns := optional(o.Namespace)
	defer free(ns)
	var list *C.vs_member_list
	err = blocking(ctx, c.lt, nil, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_list_members(h, ns, cancel, &list, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.vs_member_list_free(&list)
	n := int(C.vs_member_list_len(list))
	members := make([]*Member, 0, n)
	for i := 0; i < n; i++ {
		members = append(members, memberFrom(C.vs_member_list_get(list, C.size_t(i))))
	}
	return members, nil
}
