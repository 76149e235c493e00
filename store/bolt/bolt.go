// Package bolt is the embedded store.UIDLStore: one bbolt file (uidl.db in
// POPGATE_DATA_DIR), opened once per process and shared by every session.
// Writes go through bbolt's Batch, so concurrent sessions that end at the
// same time share one fsync; a SetLegacy that would change nothing only
// reads.
//
// Layout: bucket "legacy" / user / (UIDL NUL dup) = seq, flags (gone,
// imported), import time if imported, fingerprint;
// bucket "pairs" / user / backend / new-UIDL = mapped, UIDL;
// bucket "breaks" / user = the user's store.Breaks as JSON; bucket
// "throttle" / key = expiry, value (see KV).
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/popgate/popgate/store"
)

// FileName is the store's file in the data directory.
const FileName = "uidl.db"

var (
	bucketLegacy = []byte("legacy")
	bucketPairs  = []byte("pairs")
	bucketBreaks = []byte("breaks")
)

// openTimeout bounds the wait for the file lock, held by another popgate
// process (or a running "popgate uidl import").
const openTimeout = 5 * time.Second

// Store is a store.UIDLStore in a bbolt file.
type Store struct {
	db *bbolt.DB

	kvOnce sync.Once
	kv     *KV
	kvErr  error
}

var (
	_ store.UIDLStore  = (*Store)(nil)
	_ store.BreakStore = (*Store)(nil)
)

// Open opens (creating if needed) FileName in dir.
func Open(dir string) (*Store, error) {
	return OpenFile(filepath.Join(dir, FileName))
}

// OpenFile opens (creating if needed) the store at path.
func OpenFile(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("uidl store %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketLegacy, bucketPairs, bucketBreaks} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("uidl store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close implements store.UIDLStore. It writes what the KV holds pending.
func (s *Store) Close() error {
	var err error
	if s.kv != nil {
		err = s.kv.close()
	}
	return errors.Join(err, s.db.Close())
}

// KV returns the key-value table for the throttle's state in the same
// file, starting its background writer on first use.
func (s *Store) KV() (*KV, error) {
	s.kvOnce.Do(func() { s.kv, s.kvErr = newKV(s.db) })
	return s.kv, s.kvErr
}

func entryKey(uidl string, dup int) []byte {
	return []byte(uidl + "\x00" + strconv.Itoa(dup))
}

// The byte after the sequence number holds flags. Records written before
// imports were recorded have only flagGone or nothing, and read as learned.
const (
	flagGone     = 1
	flagImported = 2 // a uvarint of the import's Unix time follows
)

func encodeEntry(e store.Entry) []byte {
	b := binary.AppendUvarint(nil, uint64(e.Seq))
	var flags byte
	if e.Gone {
		flags |= flagGone
	}
	if e.Imported.IsZero() {
		return append(append(b, flags), e.Fingerprint...)
	}
	b = binary.AppendUvarint(append(b, flags|flagImported), uint64(e.Imported.Unix()))
	return append(b, e.Fingerprint...)
}

var errCorrupt = errors.New("corrupt record")

func decodeEntry(k, v []byte) (store.Entry, error) {
	i := bytes.LastIndexByte(k, 0)
	if i < 0 {
		return store.Entry{}, errCorrupt
	}
	dup, err := strconv.Atoi(string(k[i+1:]))
	if err != nil {
		return store.Entry{}, errCorrupt
	}
	seq, n := binary.Uvarint(v)
	if n <= 0 || len(v) < n+1 {
		return store.Entry{}, errCorrupt
	}
	flags, rest := v[n], v[n+1:]
	e := store.Entry{UIDL: string(k[:i]), Dup: dup, Seq: int(seq), Gone: flags&flagGone != 0}
	if flags&flagImported != 0 {
		at, m := binary.Uvarint(rest)
		if m <= 0 {
			return store.Entry{}, errCorrupt
		}
		e.Imported, rest = time.Unix(int64(at), 0).UTC(), rest[m:]
	}
	e.Fingerprint = string(rest)
	return e, nil
}

// Legacy implements store.UIDLStore.
func (s *Store) Legacy(ctx context.Context, user string) ([]store.Entry, error) {
	var out []store.Entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLegacy).Bucket([]byte(user))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(k, v)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("uidl store: legacy entries of %s: %w", user, err)
	}
	return out, nil
}

// SetLegacy implements store.UIDLStore. It writes only the records that
// change, and when none does it only reads: a poll of an unchanged maildrop
// costs no write transaction (no batching delay, no fsync).
func (s *Store) SetLegacy(ctx context.Context, user string, present []store.Entry) error {
	var changed bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLegacy).Bucket([]byte(user))
		if b == nil {
			changed = true // the write creates the user's bucket
			return nil
		}
		puts, err := legacyChanges(b, present)
		changed = len(puts) > 0
		return err
	})
	if err == nil && changed {
		// Another writer may have changed the records since: compare again.
		err = s.db.Batch(func(tx *bbolt.Tx) error {
			b, err := tx.Bucket(bucketLegacy).CreateBucketIfNotExists([]byte(user))
			if err != nil {
				return err
			}
			puts, err := legacyChanges(b, present)
			if err != nil {
				return err
			}
			for _, kv := range puts {
				if err := b.Put(kv.k, kv.v); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("uidl store: record legacy maildrop of %s: %w", user, err)
	}
	return nil
}

type record struct{ k, v []byte }

// legacyChanges returns the records of a user's bucket b that recording
// present as the current maildrop changes or adds. Corrupt records are
// overwritten.
func legacyChanges(b *bbolt.Bucket, present []store.Entry) ([]record, error) {
	var old []store.Entry
	err := b.ForEach(func(k, v []byte) error {
		e, err := decodeEntry(k, v)
		if err == nil {
			old = append(old, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var puts []record
	for _, e := range store.MergeLegacy(old, present) {
		k, v := entryKey(e.UIDL, e.Dup), encodeEntry(e)
		if !bytes.Equal(b.Get(k), v) {
			puts = append(puts, record{k, v})
		}
	}
	return puts, nil
}

// Pairs implements store.UIDLStore.
func (s *Store) Pairs(ctx context.Context, user, backend string) (map[string]store.Pair, error) {
	out := map[string]store.Pair{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		ub := tx.Bucket(bucketPairs).Bucket([]byte(user))
		if ub == nil {
			return nil
		}
		b := ub.Bucket([]byte(backend))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) < 1 {
				return fmt.Errorf("key %q: %w", k, errCorrupt)
			}
			out[string(k)] = store.Pair{Mapped: v[0] == 1, UIDL: string(v[1:])}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("uidl store: pairs of %s on %s: %w", user, backend, err)
	}
	return out, nil
}

// UpdatePairs implements store.UIDLStore.
func (s *Store) UpdatePairs(ctx context.Context, user, backend string, put map[string]store.Pair, drop []string) error {
	if len(put) == 0 && len(drop) == 0 {
		return nil
	}
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		ub, err := tx.Bucket(bucketPairs).CreateBucketIfNotExists([]byte(user))
		if err != nil {
			return err
		}
		b, err := ub.CreateBucketIfNotExists([]byte(backend))
		if err != nil {
			return err
		}
		for _, k := range drop {
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		}
		for k, p := range put {
			flag := byte(0)
			if p.Mapped {
				flag = 1
			}
			if err := b.Put([]byte(k), append([]byte{flag}, p.UIDL...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("uidl store: record pairs of %s on %s: %w", user, backend, err)
	}
	return nil
}

// Users implements store.UIDLStore.
func (s *Store) Users(ctx context.Context) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLegacy).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("uidl store: users: %w", err)
	}
	return out, nil
}

// Path returns the store's file name.
func (s *Store) Path() string { return s.db.Path() }

// Breaks implements store.BreakStore.
func (s *Store) Breaks(ctx context.Context, user string) (store.Breaks, error) {
	var b store.Breaks
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketBreaks).Get([]byte(user))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &b)
	})
	if err != nil {
		return store.Breaks{}, fmt.Errorf("breaks of %s: %w", user, err)
	}
	return b, nil
}

// SetBreaks implements store.BreakStore.
func (s *Store) SetBreaks(ctx context.Context, user string, b store.Breaks) error {
	forget := b.Empty()
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bbolt.Tx) error {
		if forget {
			return tx.Bucket(bucketBreaks).Delete([]byte(user))
		}
		return tx.Bucket(bucketBreaks).Put([]byte(user), v)
	})
}
