// What vine 1.5.10's etcd plugin (github.com/vine-io/plugins/sync/etcd)
// does, on etcd's own concurrency package: its keys, Lock/Unlock (one
// session per Lock), Leader (a session with etcd's default TTL, campaign
// in a goroutine, then the primary key), Resign and ListMembers (unguarded
// Kvs[0], so it panics without the primary key, as vine does). The vine modules are not available here, so this is the
// "old process" of the mixed-fleet tests; keep it to what the plugin does.
package main

import (
	"context"
	"encoding/json"
	"path"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Member is vine's sync.Member (its JSON is the campaign value).
type Member struct {
	Leader    string `json:"leader"`
	Id        string `json:"id"`
	Namespace string `json:"namespace"`
	Role      string `json:"role"`
}

// vine is one plugin instance: a client and the Prefix option as given
// (empty when the program sets none).
type vine struct {
	client *clientv3.Client
	prefix string
}

// lockKey is the plugin's mutex prefix for a lock id.
func (v *vine) lockKey(id string) string {
	return path.Join(v.prefix, strings.Replace(v.prefix+id, "/", "-", -1))
}

// heldLock is what the plugin keeps per locked id.
type heldLock struct {
	session *concurrency.Session
	mutex   *concurrency.Mutex
}

// Lock: a new session per Lock, with the TTL option only when LockTTL is
// set (otherwise etcd's concurrency default, 60 s), a mutex on the lock key.
func (v *vine) Lock(ctx context.Context, id string, ttlSeconds int) (*heldLock, error) {
	var opts []concurrency.SessionOption
	if ttlSeconds > 0 {
		opts = append(opts, concurrency.WithTTL(ttlSeconds))
	}
	s, err := concurrency.NewSession(v.client, opts...)
	if err != nil {
		return nil, err
	}
	m := concurrency.NewMutex(s, v.lockKey(id))
	if err := m.Lock(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return &heldLock{session: s, mutex: m}, nil
}

// Unlock: the mutex, then (whatever the mutex said) its session.
func (v *vine) Unlock(ctx context.Context, l *heldLock) error {
	defer l.session.Close()
	return l.mutex.Unlock(context.Background())
}

// candidate is a vine Leader: campaigning in the background, or elected.
type candidate struct {
	session  *concurrency.Session
	election *concurrency.Election
	elected  chan struct{} // vine's: one token once elected, taken by Resign
	stop     chan struct{}
	// won is the model's own instrumentation (not vine's): closed once
	// elected, so the command can print "elected ID" without taking the
	// token Resign looks for.
	won chan struct{}
}

// leaderSessionTTL is a test-only departure from vine (0 = vine's
// behaviour): vine creates the election session with no TTL option, so
// etcd's concurrency default (60 s) applies whatever LeaderTTL says, and a
// killed vine primary holds the election for up to 60 s. Set only by the
// kill -9 handover test (flag -leader-session-ttl) to keep it fast.
var leaderSessionTTL int

// Leader returns at once and campaigns in a goroutine in
// path.Join(prefix, "leaders", ns) with the Member JSON; once elected it
// writes path.Join(prefix, "primary", ns) = id (no lease), ignoring the
// error, as vine does. vine ignores LeaderTTL (it is not passed here).
func (v *vine) Leader(name, ns, id string) (*candidate, error) {
	var opts []concurrency.SessionOption
	if leaderSessionTTL > 0 {
		opts = append(opts, concurrency.WithTTL(leaderSessionTTL))
	}
	s, err := concurrency.NewSession(v.client, opts...)
	if err != nil {
		return nil, err
	}
	c := &candidate{
		session:  s,
		election: concurrency.NewElection(s, path.Join(v.prefix, "leaders", ns)),
		elected:  make(chan struct{}, 1),
		stop:     make(chan struct{}, 1),
		won:      make(chan struct{}),
	}
	go func() {
		value, _ := json.Marshal(Member{Leader: name, Id: id, Namespace: ns})
		if err := c.election.Campaign(context.Background(), string(value)); err != nil {
			return
		}
		_, _ = s.Client().Put(context.TODO(), path.Join(v.prefix, "primary", ns), id)
		c.elected <- struct{}{}
		close(c.won)
	}()
	return c, nil
}

// Resign does nothing unless elected (or already resigned); then it
// resigns the election. It does not close the session (vine does not).
func (c *candidate) Resign() error {
	select {
	case <-c.stop:
		return nil
	case <-c.elected:
	default:
		return nil
	}
	close(c.stop)
	return c.election.Resign(context.Background())
}

// ListMembers ranges the election prefix and marks as primary the member
// whose id is the primary key's value. Like vine, it indexes the primary
// key's Kvs[0] without a length check: with the key missing and any
// candidate present it panics (index out of range), as vine does.
func (v *vine) ListMembers(ctx context.Context, ns string) ([]Member, error) {
	rsp, err := v.client.Get(ctx, path.Join(v.prefix, "leaders", ns), clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	p, _ := v.client.Get(ctx, path.Join(v.prefix, "primary", ns))
	members := []Member{}
	for _, kv := range rsp.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			continue
		}
		if p != nil && m.Id == string(p.Kvs[0].Value) {
			m.Role = "primary"
		} else {
			m.Role = "follow"
		}
		members = append(members, m)
	}
	return members, nil
}
