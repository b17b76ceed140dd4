package sync

/*
#include <stdlib.h>
#include <vinesync.h>
*/
import "C"

import (
	"context"
	"os"
	"runtime"
	"strings"
	gosync "sync"
	"time"
)

// Client is vinesync's Sync: made by etcd.NewSync or memory.NewSync.
// Safe for concurrent use. Close releases everything it holds.
type Client struct {
	backend string // "etcd" or "memory"
	mu      gosync.Mutex
	opts    Options
	h       *C.vs_sync
	closed  bool
}

// New makes a Client for backend "etcd" or "memory"; it connects on Init
// (or on first use). Options not given default to the VINESYNC_*
// environment variables (see optionsFromEnv), then vine's defaults.
func New(backend string, opts ...Option) *Client {
	o := optionsFromEnv()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{backend: backend, opts: o}
	runtime.SetFinalizer(c, func(c *Client) { c.Close() }) // safety net only
	return c
}

// Init applies options and (re)connects.
func (c *Client) Init(opts ...Option) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &Error{Kind: ErrClosed, Message: "the sync handle is closed"}
	}
	for _, opt := range opts {
		opt(&c.opts)
	}
	if c.h != nil {
		C.vs_sync_free(&c.h)
	}
	return c.connectLocked()
}

func (c *Client) connectLocked() error {
	var o *C.vs_options
	if err := plain(func(e **C.vs_error) C.vs_status { return C.vs_options_new(&o, e) }); err != nil {
		return err
	}
	defer C.vs_options_free(&o)
	set := func(f func(e **C.vs_error) C.vs_status) error { return plain(f) }
	prefix, nodes := cstr(c.opts.Prefix), cstr(strings.Join(c.opts.Nodes, ","))
	defer free(prefix)
	defer free(nodes)
	if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_prefix(o, prefix, e) }); err != nil {
		return err
	}
	if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_nodes(o, nodes, e) }); err != nil {
		return err
	}
	dial, req := C.uint64_t(c.opts.DialTimeout/time.Millisecond), C.uint64_t(c.opts.RequestTimeout/time.Millisecond)
	if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_timeouts(o, dial, req, e) }); err != nil {
		return err
	}
	if c.opts.CAFile != "" || c.opts.CertFile != "" || c.opts.KeyFile != "" || c.opts.ServerName != "" {
		ca, cert, key, name := optional(c.opts.CAFile), optional(c.opts.CertFile), optional(c.opts.KeyFile), optional(c.opts.ServerName)
		defer free(ca)
		defer free(cert)
		defer free(key)
		defer free(name)
		if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_tls(o, ca, cert, key, name, e) }); err != nil {
			return err
		}
	}
	if c.opts.User != "" {
		user, pass := cstr(c.opts.User), cstr(c.opts.Password)
		defer free(user)
		defer free(pass)
		if err := set(func(e **C.vs_error) C.vs_status { return C.vs_options_set_credentials(o, user, pass, e) }); err != nil {
			return err
		}
	}
	if c.backend == "memory" {
		return plain(func(e **C.vs_error) C.vs_status { return C.vs_sync_new_memory(o, &c.h, e) })
	}
	return withCancel(context.Background(), func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		return C.vs_sync_new_etcd(o, cancel, &c.h, e)
	})
}

// handle connects on first use (vine users call Init first; tolerate not).
func (c *Client) handle() (*C.vs_sync, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &Error{Kind: ErrClosed, Message: "the sync handle is closed"}
	}
	if c.h == nil {
		if err := c.connectLocked(); err != nil {
			return nil, err
		}
	}
	return c.h, nil
}

// Options returns the options.
func (c *Client) Options() Options {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opts
}

// String is "etcd" or "memory".
func (c *Client) String() string { return c.backend }

// Close releases every lock and candidacy of the handle. Idempotent.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.h != nil {
		C.vs_sync_free(&c.h)
	}
}

func lockOptions(opts []LockOption) (C.uint64_t, C.uint64_t) {
	o := LockOptions{TTL: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return C.uint64_t(o.TTL / time.Millisecond), C.uint64_t(o.Wait / time.Millisecond)
}

// Lock acquires lock id, held by this Sync until Unlock(id). It blocks
// until held, LockWait passes (ErrLockTimeout) or ctx is done (ErrCancelled,
// also errors.Is ctx.Err()); a cancelled wait leaves no trace.
func (c *Client) Lock(ctx context.Context, id string, opts ...LockOption) error {
	_, err := c.lock(ctx, id, false, opts)
	return err
}

// LockGuard is Lock returning a Guard (fencing token, lost signal).
func (c *Client) LockGuard(ctx context.Context, id string, opts ...LockOption) (*Guard, error) {
	return c.lock(ctx, id, true, opts)
}

func (c *Client) lock(ctx context.Context, id string, guarded bool, opts []LockOption) (*Guard, error) {
	h, err := c.handle()
	if err != nil {
		return nil, err
	}
	ttl, wait := lockOptions(opts)
	cid := cstr(id)
	defer free(cid)
	var g *C.vs_guard
	err = withCancel(ctx, func(cancel *C.vs_cancel, e **C.vs_error) C.vs_status {
		if guarded {
			return C.vs_lock(h, cid, ttl, wait, cancel, &g, e)
		}
		return C.vs_lock(h, cid, ttl, wait, cancel, nil, e)
	})
	runtime.KeepAlive(c)
	if err != nil || !guarded {
		return nil, err
	}
	return newGuard(g), nil
}

// TryLock takes lock id only if it is free now (else ErrWouldBlock).
func (c *Client) TryLock(ctx context.Context, id string, opts ...LockOption) (*Guard, error) {
	h, err := c.handle()
	if err != nil {
		return nil, err
	}
	ttl, _ := lockOptions(opts)
	cid := cstr(id)
	defer free(cid)
	var g *C.vs_guard
	err = plain(func(e **C.vs_error) C.vs_status { return C.vs_try_lock(h, cid, ttl, nil, &g, e) })
	runtime.KeepAlive(c)
	if err != nil {
		return nil, err
	}
	return newGuard(g), nil
}

// Unlock releases the acquisition of id this Sync holds (ErrNotLocked if none).
func (c *Client) Unlock(ctx context.Context, id string) error {
	h, err := c.handle()
	if err != nil {
		return err
	}
	cid := cstr(id)
	defer free(cid)
	err = plain(func(e **C.vs_error) C.vs_status { return C.vs_unlock(h, cid, nil, e) })
	runtime.KeepAlive(c)
	return err
}

// ListMembers gives the live candidates of MemberNS, primary first.
func (c *Client) ListMembers(ctx context.Context, opts ...ListMembersOption) ([]*Member, error) {
	h, err := c.handle()
	if err != nil {
		return nil, err
	}
	o := ListMembersOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	ns := optional(o.Namespace)
	defer free(ns)
	var list *C.vs_member_list
	if err := plain(func(e **C.vs_error) C.vs_status { return C.vs_list_members(h, ns, nil, &list, e) }); err != nil {
		return nil, err
	}
	defer C.vs_member_list_free(&list)
	n := int(C.vs_member_list_len(list))
	members := make([]*Member, 0, n)
	for i := 0; i < n; i++ {
		members = append(members, memberFrom(C.vs_member_list_get(list, C.size_t(i))))
	}
	runtime.KeepAlive(c)
	return members, nil
}

// optionsFromEnv: vine's defaults overridden by VINESYNC_NODES
// (comma-separated), VINESYNC_PREFIX, VINESYNC_CACERT, VINESYNC_CERT,
// VINESYNC_KEY, VINESYNC_SERVER_NAME, VINESYNC_USER and VINESYNC_PASSWORD —
// the variables every vinesync language reads.
func optionsFromEnv() Options {
	o := Options{Prefix: "/vine/sync", Nodes: []string{"127.0.0.1:2379"}}
	if env := os.Getenv("VINESYNC_NODES"); env != "" {
		o.Nodes = strings.Split(env, ",")
	}
	for name, field := range map[string]*string{
		"VINESYNC_PREFIX":      &o.Prefix,
		"VINESYNC_CACERT":      &o.CAFile,
		"VINESYNC_CERT":        &o.CertFile,
		"VINESYNC_KEY":         &o.KeyFile,
		"VINESYNC_SERVER_NAME": &o.ServerName,
		"VINESYNC_USER":        &o.User,
		"VINESYNC_PASSWORD":    &o.Password,
	} {
		if env := os.Getenv(name); env != "" {
			*field = env
		}
	}
	return o
}
