package bolt

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/popgate/popgate/internal/writeback"
	bbolt "go.etcd.io/bbolt"
)

var bucketThrottle = []byte("throttle")

// flushInterval is how often KV writes reach the file. The throttle's
// state changes at every login: writing it behind keeps logins free of
// fsyncs, at the price of the last second of it after a crash (a clean
// stop flushes).
const flushInterval = time.Second

// KV is a small key-value table in the store's file with expiring values,
// for the throttle's state (throttle.KV). Writes are kept in memory and
// flushed every flushInterval and on Close.
type KV struct {
	db *bbolt.DB

	// writes are not in the file yet. A read finds them, the batch being
	// written included, or a counter just raised would read as its old
	// value (a failed-login limit would let one more guess through).
	writes  writeback.Batch[pendingValue]
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

type pendingValue struct {
	value   []byte // nil: deleted
	expires time.Time
}

func newKV(db *bbolt.DB) (*KV, error) {
	err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketThrottle)
		if err != nil {
			return err
		}
		// Drop what expired while the server was stopped.
		now := time.Now()
		var expired [][]byte
		err = b.ForEach(func(k, v []byte) error {
			if _, ok := decodeKV(v, now); !ok {
				expired = append(expired, k)
			}
			return nil
		})
		for _, k := range expired {
			if err == nil {
				err = b.Delete(k)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	kv := &KV{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go kv.flushLoop()
	return kv, nil
}

// encodeKV prefixes value with its expiry in Unix nanoseconds, 0 for never.
func encodeKV(value []byte, expires time.Time) []byte {
	var at uint64
	if !expires.IsZero() {
		at = uint64(expires.UnixNano())
	}
	return append(binary.BigEndian.AppendUint64(nil, at), value...)
}

func decodeKV(v []byte, now time.Time) ([]byte, bool) {
	if len(v) < 8 {
		return nil, false
	}
	at := binary.BigEndian.Uint64(v)
	if at != 0 && now.UnixNano() >= int64(at) {
		return nil, false
	}
	return v[8:], true
}

// Get implements throttle.KV.
func (kv *KV) Get(_ context.Context, key string) ([]byte, bool, error) {
	now := time.Now()
	if p, ok := kv.writes.Get(key); ok {
		if p.value == nil || (!p.expires.IsZero() && !now.Before(p.expires)) {
			return nil, false, nil
		}
		return p.value, true, nil
	}
	var out []byte
	var found bool
	err := kv.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketThrottle).Get([]byte(key))
		if v == nil {
			return nil
		}
		var val []byte
		val, found = decodeKV(v, now)
		out = append([]byte(nil), val...)
		return nil
	})
	return out, found, err
}

// Put implements throttle.KV.
func (kv *KV) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	var expires time.Time
	if ttl > 0 {
		expires = time.Now().Add(ttl)
	}
	kv.writes.Set(key, pendingValue{value: append([]byte{}, value...), expires: expires})
	return nil
}

// Delete implements throttle.KV.
func (kv *KV) Delete(_ context.Context, key string) error {
	kv.writes.Set(key, pendingValue{})
	return nil
}

func (kv *KV) flushLoop() {
	defer close(kv.done)
	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	for {
		select {
		case <-kv.stop:
			return
		case <-tick.C:
			_ = kv.flush()
		}
	}
}

// flush writes the pending changes in one transaction. On failure they
// stay pending for the next flush (unless newer ones replaced them).
func (kv *KV) flush() error {
	return kv.writes.Flush(func(batch map[string]pendingValue) error {
		return kv.db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketThrottle)
			for k, p := range batch {
				var err error
				if p.value == nil {
					err = b.Delete([]byte(k))
				} else {
					err = b.Put([]byte(k), encodeKV(p.value, p.expires))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// close stops the flusher and writes what is pending. Calls after the
// first do nothing.
func (kv *KV) close() error {
	var err error
	kv.closing.Do(func() {
		close(kv.stop)
		<-kv.done
		err = kv.flush()
	})
	return err
}
