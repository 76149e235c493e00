// Package index keeps parsed maildrop indexes in a bounded in-memory LRU
// cache backed by a bbolt file, so that polls after a restart stay cheap.
// Values are stored with their own binary encoding when they have one
// (encoding.BinaryMarshaler), else gob-encoded. The index is only a cache: everything in it
// can be recomputed from the maildrop, and losing it changes no UIDL.
package index

import (
	"bytes"
	"encoding"
	"encoding/gob"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/popgate/popgate/internal/writeback"
	bolt "go.etcd.io/bbolt"
)

// FileName is the bbolt file kept in the data directory.
const FileName = "index.db"

// DefaultCacheSize is the number of maildrops kept decoded in memory.
const DefaultCacheSize = 1024

// DB is an open index file, shared by every backend of the process that
// uses the same data directory (bbolt locks the file against a second
// open, even from the same process).
type DB struct {
	bolt *bolt.DB
	path string
	refs int // guarded by openMu
}

var (
	openMu sync.Mutex
	open   = map[string]*DB{}
)

// OpenDB opens or creates dir/index.db, or shares the handle already open
// in this process. It waits at most a second for another process holding
// the file. Each OpenDB needs its Close.
func OpenDB(dir string) (*DB, error) {
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	openMu.Lock()
	defer openMu.Unlock()
	if d, ok := open[path]; ok {
		d.refs++
		return d, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	d := &DB{bolt: db, path: path, refs: 1}
	open[path] = d
	return d, nil
}

// Close releases this handle; the file closes with the last one.
func (d *DB) Close() error {
	openMu.Lock()
	defer openMu.Unlock()
	if d.refs == 0 {
		return nil
	}
	d.refs--
	if d.refs > 0 {
		return nil
	}
	delete(open, d.path)
	return d.bolt.Close()
}

// Cache maps keys (maildrop paths) to values of type V. A nil DB keeps
// values in memory only. Values handed out are shared: treat them as
// immutable and Put a new value to change one.
//
// Writes to the file happen behind Put, in one goroutine that writes the
// latest value of every key put since its last write in one transaction:
// a session does not wait for encoding and syncing an index it already
// has in memory. A value not written yet is lost by a crash, which costs
// one parse of that maildrop later, never a wrong answer (every value is
// checked against the maildrop before use).
type Cache[V any] struct {
	db     *DB
	bucket []byte
	lru    *lru.Cache[string, V]

	writes  writeback.Batch[V] // put, not in the file yet
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	mu      sync.Mutex
	closed  bool
}

// NewCache returns a cache of at most size values in memory, persisted in
// bucket of db when db is not nil.
func NewCache[V any](db *DB, bucket string, size int) (*Cache[V], error) {
	if size <= 0 {
		size = DefaultCacheSize
	}
	l, err := lru.New[string, V](size)
	if err != nil {
		return nil, err
	}
	c := &Cache[V]{db: db, bucket: []byte(bucket), lru: l}
	if db != nil {
		c.kick = make(chan struct{}, 1)
		c.stop = make(chan struct{})
		c.stopped = make(chan struct{})
		defer func() { go c.writer() }()
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(c.bucket)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("index: bucket %s: %w", bucket, err)
		}
	}
	return c, nil
}

// Get returns the value for key from memory, else from the file. A value
// that cannot be decoded (say, written by another version) is a miss.
func (c *Cache[V]) Get(key string) (V, bool) {
	if v, ok := c.lru.Get(key); ok {
		return v, true
	}
	var v V
	if c.db == nil {
		return v, false
	}
	if v, ok := c.writes.Get(key); ok {
		c.lru.Add(key, v)
		return v, true
	}
	found := false
	c.db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(c.bucket).Get([]byte(key))
		if b == nil {
			return nil
		}
		if decode(b, &v) == nil {
			found = true
		}
		return nil
	})
	if found {
		c.lru.Add(key, v)
	}
	return v, found
}

// Put stores v for key in memory, and has it written to the file.
func (c *Cache[V]) Put(key string, v V) error {
	c.lru.Add(key, v)
	if c.db == nil {
		return nil
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.writes.Set(key, v)
	}
	c.mu.Unlock()
	if closed {
		// In order after the writer's last batch.
		c.writes.Set(key, v)
		return c.writes.Flush(c.write)
	}
	select {
	case c.kick <- struct{}{}:
	default: // a write is due already
	}
	return nil
}

// writer writes what Put left pending until Close.
func (c *Cache[V]) writer() {
	defer close(c.stopped)
	for {
		select {
		case <-c.kick:
			c.flush()
		case <-c.stop:
			c.flush()
			return
		}
	}
}

// Flush writes what is pending now, and returns when it is written.
func (c *Cache[V]) Flush() {
	if c.db != nil {
		c.flush()
	}
}

// flush writes what is pending. A batch the file refused is dropped, not
// kept for later: the index is a cache, and holding every maildrop's index
// while the disk is full would bypass the cache's bound. Each of them then
// costs one parse after a restart.
func (c *Cache[V]) flush() {
	_ = c.writes.Flush(func(values map[string]V) error {
		_ = c.write(values)
		return nil
	})
}

// write stores values in the file in one transaction.
func (c *Cache[V]) write(values map[string]V) error {
	enc := make(map[string][]byte, len(values))
	for key, v := range values {
		// A value that cannot be encoded is not kept: it costs its
		// maildrop one parse after a restart, as a lost write would.
		if b, err := encode(v); err == nil {
			enc[key] = b
		}
	}
	err := c.db.bolt.Update(func(tx *bolt.Tx) error {
		for key, b := range enc {
			if err := tx.Bucket(c.bucket).Put([]byte(key), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: store: %w", err)
	}
	return nil
}

// Close writes what is pending and stops the writer; later Puts write at
// once. It must be called before the DB is closed.
func (c *Cache[V]) Close() {
	if c.db == nil {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.stopped
}

// binaryTag starts a value stored with its own binary encoding. A gob
// stream never starts with it: gob's first byte is a length below 0x80 or
// the negated byte count of a longer one (0xf8 to 0xff).
const binaryTag = 0xb1

func encode[V any](v V) ([]byte, error) {
	if m, ok := any(v).(encoding.BinaryAppender); ok {
		return m.AppendBinary([]byte{binaryTag})
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(v)
	return buf.Bytes(), err
}

func decode[V any](b []byte, v *V) error {
	if len(b) > 0 && b[0] == binaryTag {
		// V is a pointer type whose pointee decodes itself.
		t := reflect.TypeFor[V]()
		if t.Kind() != reflect.Pointer {
			return fmt.Errorf("index: %v cannot decode a binary value", t)
		}
		rv := reflect.New(t.Elem())
		u, ok := rv.Interface().(encoding.BinaryUnmarshaler)
		if !ok {
			return fmt.Errorf("index: %T cannot decode a binary value", *v)
		}
		if err := u.UnmarshalBinary(b[1:]); err != nil {
			return err
		}
		*v = rv.Interface().(V)
		return nil
	}
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
}
