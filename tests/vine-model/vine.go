// What vine 1.5.10's etcd plugin (github.com/vine-io/plugins/sync/etcd)
// does, on etcd's own concurrency package: its keys, Lock/Unlock (one
// session per Lock), Leader (campaign, then the primary key) and
// ListMembers. The vine modules are not available here, so this is the
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

// Lock: a new session (lease of LockTTL seconds) per Lock, a mutex on the
// lock key.
func (v *vine) Lock(ctx context.Context, id string, ttlSeconds int) (*heldLock, error) {
	s, err := concurrency.NewSession(v.client, concurrency.WithTTL(ttlSeconds))
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

// Unlock: the mutex, then its session.
func (v *vine) Unlock(ctx context.Context, l *heldLock) error {
	if err := l.mutex.Unlock(ctx); err != nil {
		return err
	}
	return l.session.Close()
}

// candidate is an elected (or campaigning) vine Leader.
type candidate struct {
	session  *concurrency.Session
	election *concurrency.Election
}

// Leader campaigns in path.Join(prefix, "leaders", ns) with the Member JSON
// and, once elected, writes path.Join(prefix, "primary", ns) = id (no lease).
func (v *vine) Leader(ctx context.Context, name, ns, id string, ttlSeconds int) (*candidate, error) {
	s, err := concurrency.NewSession(v.client, concurrency.WithTTL(ttlSeconds))
	if err != nil {
		return nil, err
	}
	e := concurrency.NewElection(s, path.Join(v.prefix, "leaders", ns))
	value, _ := json.Marshal(Member{Leader: name, Id: id, Namespace: ns})
	if err := e.Campaign(ctx, string(value)); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := v.client.Put(ctx, path.Join(v.prefix, "primary", ns), id); err != nil {
		s.Close()
		return nil, err
	}
	return &candidate{session: s, election: e}, nil
}

// Resign gives up the election and closes the session.
func (c *candidate) Resign(ctx context.Context) error {
	if err := c.election.Resign(ctx); err != nil {
		return err
	}
	return c.session.Close()
}

// ListMembers ranges the election prefix and marks as primary the member
// whose id is the primary key's value.
func (v *vine) ListMembers(ctx context.Context, ns string) ([]Member, error) {
	rsp, err := v.client.Get(ctx, path.Join(v.prefix, "leaders", ns), clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	primary := ""
	if p, err := v.client.Get(ctx, path.Join(v.prefix, "primary", ns)); err == nil && len(p.Kvs) > 0 {
		primary = string(p.Kvs[0].Value)
	}
	var members []Member
	for _, kv := range rsp.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			continue
		}
		if m.Id == primary {
			m.Role = "primary"
		} else {
			m.Role = "follow"
		}
		members = append(members, m)
	}
	return members, nil
}
