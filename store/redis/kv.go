package redis

import (
	"context"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// KV is a key-value table under PREFIX throttle: with Redis expiry, for
// the throttle's state (throttle.KV) shared by every instance. A read is
// one command. Writes are queued and sent by one writer, several per
// pipeline, in order: the throttle's writes (at login and after QUIT) need
// not hold up the session, and a lost one only forgets a little.
type KV struct {
	c      goredis.UniversalClient
	prefix string

	q     chan *kvWrite
	done  chan struct{}
	close sync.Once

	// pending holds the latest queued write of each key until it is sent,
	// so this process reads its own writes.
	mu      sync.Mutex
	pending map[string]*kvWrite
}

type kvWrite struct {
	key   string
	value []byte // nil: delete
	ttl   time.Duration
}

// kvQueue bounds the writes waiting; beyond it a write waits for room.
const kvQueue = 4096

// kvBatch bounds the writes sent in one pipeline.
const kvBatch = 256

// KV returns the store's key-value table; its writer stops at Close.
func (s *Store) KV() *KV {
	s.kvOnce.Do(func() {
		s.kv = &KV{c: s.c, prefix: s.prefix + "throttle:", q: make(chan *kvWrite, kvQueue),
			done: make(chan struct{}), pending: map[string]*kvWrite{}}
		go s.kv.write()
	})
	return s.kv
}

// Get implements throttle.KV. It always asks the server, so that an
// outage shows, and answers with this process's queued write of the key
// when there is one, being newer.
func (kv *KV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := kv.c.Get(ctx, kv.prefix+key).Bytes()
	found := err == nil
	if errors.Is(err, goredis.Nil) {
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	kv.mu.Lock()
	w, ok := kv.pending[key]
	kv.mu.Unlock()
	if ok {
		return w.value, w.value != nil, nil
	}
	return b, found, nil
}

// Put implements throttle.KV. The write is queued.
func (kv *KV) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return kv.enqueue(ctx, &kvWrite{key: key, value: append([]byte{}, value...), ttl: ttl})
}

// Delete implements throttle.KV. The write is queued.
func (kv *KV) Delete(ctx context.Context, key string) error {
	return kv.enqueue(ctx, &kvWrite{key: key})
}

func (kv *KV) enqueue(ctx context.Context, w *kvWrite) error {
	kv.mu.Lock()
	kv.pending[w.key] = w
	kv.mu.Unlock()
	select {
	case kv.q <- w:
		return nil
	case <-ctx.Done():
		kv.sent([]*kvWrite{w})
		return ctx.Err()
	}
}

// sent forgets the pending writes of batch that no later write replaced.
func (kv *KV) sent(batch []*kvWrite) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	for _, w := range batch {
		if kv.pending[w.key] == w {
			delete(kv.pending, w.key)
		}
	}
}

// write sends the queued writes until the queue is closed.
func (kv *KV) write() {
	defer close(kv.done)
	batch := make([]*kvWrite, 0, kvBatch)
	for w := range kv.q {
		batch = append(batch[:0], w)
	more:
		for len(batch) < kvBatch {
			select {
			case w, ok := <-kv.q:
				if !ok {
					break more
				}
				batch = append(batch, w)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		// A failed batch is dropped: the reads notice an outage.
		_, _ = kv.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, w := range batch {
				if w.value == nil {
					p.Del(ctx, kv.prefix+w.key)
				} else {
					p.Set(ctx, kv.prefix+w.key, w.value, w.ttl)
				}
			}
			return nil
		})
		cancel()
		kv.sent(batch)
	}
}

// stop sends what is queued and stops the writer.
func (kv *KV) stop() {
	kv.close.Do(func() {
		close(kv.q)
		<-kv.done
	})
}
