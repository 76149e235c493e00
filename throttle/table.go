package throttle

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// KV is a persistent key-value store for the throttle's state: the user
// states and the failed-login counts. store/bolt (in the process's own
// file) and store/redis (shared by several instances) provide one. Values
// may expire after ttl; 0 means never.
type KV interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// kvTimeout bounds one KV call: a slow store must not hold up logins.
const kvTimeout = 500 * time.Millisecond

// table maps keys to values of one kind: an LRU in memory, or a KV.
type table[V any] interface {
	peek(key string) (V, bool)
	add(key string, v V)
	remove(key string)
}

type lruTable[V any] struct{ c *lru.Cache[string, V] }

func newLRUTable[V any](size int) (lruTable[V], error) {
	c, err := lru.New[string, V](size)
	if err != nil {
		return lruTable[V]{}, fmt.Errorf("throttle: state of size %d: %w", size, err)
	}
	return lruTable[V]{c}, nil
}

func (t lruTable[V]) peek(k string) (V, bool) { return t.c.Peek(k) }
func (t lruTable[V]) add(k string, v V)       { t.c.Add(k, v) }
func (t lruTable[V]) remove(k string)         { t.c.Remove(k) }

// kvTable keeps JSON values under prefix+key. A store error fails open: a
// read finds nothing and a write is lost, and the outage is reported once
// through health.
type kvTable[V any] struct {
	kv     KV
	prefix string
	ttl    time.Duration
	health *storeHealth
}

func (t kvTable[V]) peek(k string) (V, bool) {
	var v V
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	b, ok, err := t.kv.Get(ctx, t.prefix+k)
	t.health.report(err)
	if err != nil || !ok {
		return v, false
	}
	if json.Unmarshal(b, &v) != nil {
		// A record this version cannot read counts as absent.
		return v, false
	}
	return v, true
}

func (t kvTable[V]) add(k string, v V) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	t.health.failed(t.kv.Put(ctx, t.prefix+k, b, t.ttl))
}

func (t kvTable[V]) remove(k string) {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	t.health.failed(t.kv.Delete(ctx, t.prefix+k))
}

// storeHealth turns the results of KV calls into one call of down at the
// start of an outage and one of up at its end. Only reads tell that the
// store is back: a store may queue writes (store/redis) and accept them
// while it is unreachable.
type storeHealth struct {
	down func(error)
	up   func()

	mu      sync.Mutex
	failing bool
}

// failed reports a write's error, if any.
func (h *storeHealth) failed(err error) {
	if err != nil {
		h.report(err)
	}
}

// report reports a read's outcome.
func (h *storeHealth) report(err error) {
	h.mu.Lock()
	changed := h.failing != (err != nil)
	h.failing = err != nil
	h.mu.Unlock()
	switch {
	case !changed:
	case err != nil && h.down != nil:
		h.down(err)
	case err == nil && h.up != nil:
		h.up()
	}
}

// tableState is a State over a table.
type tableState struct{ t table[UserState] }

func (s tableState) Get(user string) (UserState, bool) { return s.t.peek(user) }
func (s tableState) Put(user string, st UserState)     { s.t.add(user, st) }
func (s tableState) Delete(user string)                { s.t.remove(user) }
