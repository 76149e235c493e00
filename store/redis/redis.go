// Package redis is the shared store.UIDLStore: several popgate instances
// behind a balancer keep their UIDL maps in one Redis.
//
// Layout, every key starting with the configured prefix:
//
//	PREFIX users                    set of users with legacy entries
//	PREFIX legacy:USER              hash (UIDL NUL dup) -> gone seq [i import-time] SP fingerprint
//	PREFIX pairs:BACKEND:USER       hash new-UIDL -> mapped UIDL
//
// Each call is one round trip: reads are single commands, SetLegacy is a
// Lua script that merges on the server (so concurrent instances cannot lose
// each other's fingerprints), UpdatePairs one MULTI/EXEC pipeline.
package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/popgate/popgate/store"
)

// DefaultPrefix namespaces popgate's keys when no prefix is configured.
const DefaultPrefix = "popgate:"

//go:embed setlegacy.lua
var setLegacySource string

var setLegacyScript = goredis.NewScript(setLegacySource)

// Store is a store.UIDLStore in Redis.
type Store struct {
	c      goredis.UniversalClient
	prefix string

	kvOnce sync.Once
	kv     *KV
}

var _ store.UIDLStore = (*Store)(nil)

// quietClient keeps go-redis's own messages (a line per failed dial) out of
// popgate's output: the health check and the callers log an outage once.
var quietClient sync.Once

type discardLog struct{}

func (discardLog) Printf(context.Context, string, ...any) {}

// Open connects to the redis:// or rediss:// URL (user, password and
// database as go-redis parses them) and checks that the server answers.
func Open(ctx context.Context, url, prefix string) (*Store, error) {
	quietClient.Do(func() { goredis.SetLogger(discardLog{}) })
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("uidl store: %w", err)
	}
	// A session waits for the store at login: with Redis down it should
	// hear so within about a second, not after go-redis's default 5s dial
	// timeout and three retries. The URL's own settings win.
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 1
	}
	s := New(goredis.NewClient(o), prefix)
	if err := s.c.Ping(ctx).Err(); err != nil {
		s.c.Close()
		return nil, fmt.Errorf("uidl store %s: %w", o.Addr, err)
	}
	return s, nil
}

// New returns a Store on an existing client, which Close closes.
func New(c goredis.UniversalClient, prefix string) *Store {
	return &Store{c: c, prefix: prefix}
}

// Client returns the connection, for the other state popgate shares in the
// same Redis.
func (s *Store) Client() goredis.UniversalClient { return s.c }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Close implements store.UIDLStore, after sending the KV's queued writes.
func (s *Store) Close() error {
	if s.kv != nil {
		s.kv.stop()
	}
	return s.c.Close()
}

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.c.Ping(ctx).Err() }

func (s *Store) usersKey() string             { return s.prefix + "users" }
func (s *Store) legacyKey(user string) string { return s.prefix + "legacy:" + user }
func (s *Store) pairsKey(user, backend string) string {
	return s.prefix + "pairs:" + backend + ":" + user
}

func entryField(uidl string, dup int) string { return uidl + "\x00" + strconv.Itoa(dup) }

// entryValue is the gone flag, the sequence number, "i" and the import's
// Unix time if the entry was imported, a space and the fingerprint; the
// script relies on this shape. Values written before imports were recorded
// lack the "i" part and read as learned.
func entryValue(e store.Entry) string {
	gone := "0"
	if e.Gone {
		gone = "1"
	}
	head := gone + strconv.Itoa(e.Seq)
	if !e.Imported.IsZero() {
		head += "i" + strconv.FormatInt(e.Imported.Unix(), 10)
	}
	return head + " " + e.Fingerprint
}

var errCorrupt = errors.New("corrupt record")

func decodeEntry(field, value string) (store.Entry, error) {
	uidl, dupText, ok := strings.Cut(field, "\x00")
	if !ok {
		return store.Entry{}, errCorrupt
	}
	dup, err := strconv.Atoi(dupText)
	if err != nil {
		return store.Entry{}, errCorrupt
	}
	head, fp, ok := strings.Cut(value, " ")
	if !ok || len(head) < 2 {
		return store.Entry{}, errCorrupt
	}
	seqText, importText, imported := strings.Cut(head[1:], "i")
	seq, err := strconv.Atoi(seqText)
	if err != nil {
		return store.Entry{}, errCorrupt
	}
	e := store.Entry{UIDL: uidl, Dup: dup, Seq: seq, Gone: head[0] == '1', Fingerprint: fp}
	if imported {
		at, err := strconv.ParseInt(importText, 10, 64)
		if err != nil {
			return store.Entry{}, errCorrupt
		}
		e.Imported = time.Unix(at, 0).UTC()
	}
	return e, nil
}

// Legacy implements store.UIDLStore.
func (s *Store) Legacy(ctx context.Context, user string) ([]store.Entry, error) {
	m, err := s.c.HGetAll(ctx, s.legacyKey(user)).Result()
	if err != nil {
		return nil, fmt.Errorf("uidl store: legacy entries of %s: %w", user, err)
	}
	out := make([]store.Entry, 0, len(m))
	for f, v := range m {
		e, err := decodeEntry(f, v)
		if err != nil {
			return nil, fmt.Errorf("uidl store: legacy entries of %s: field %q: %w", user, f, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// SetLegacy implements store.UIDLStore with one script call, which writes
// only the fields that change.
func (s *Store) SetLegacy(ctx context.Context, user string, present []store.Entry) error {
	args := make([]any, 0, 1+2*len(present))
	args = append(args, user)
	for _, e := range present {
		e.Gone = false
		args = append(args, entryField(e.UIDL, e.Dup), entryValue(e))
	}
	err := setLegacyScript.Run(ctx, s.c, []string{s.legacyKey(user), s.usersKey()}, args...).Err()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("uidl store: record legacy maildrop of %s: %w", user, err)
	}
	return nil
}

// Pairs implements store.UIDLStore.
func (s *Store) Pairs(ctx context.Context, user, backend string) (map[string]store.Pair, error) {
	m, err := s.c.HGetAll(ctx, s.pairsKey(user, backend)).Result()
	if err != nil {
		return nil, fmt.Errorf("uidl store: pairs of %s on %s: %w", user, backend, err)
	}
	out := make(map[string]store.Pair, len(m))
	for k, v := range m {
		if len(v) < 1 {
			return nil, fmt.Errorf("uidl store: pairs of %s on %s: key %q: %w", user, backend, k, errCorrupt)
		}
		out[k] = store.Pair{Mapped: v[0] == '1', UIDL: v[1:]}
	}
	return out, nil
}

// UpdatePairs implements store.UIDLStore in one MULTI/EXEC.
func (s *Store) UpdatePairs(ctx context.Context, user, backend string, put map[string]store.Pair, drop []string) error {
	if len(put) == 0 && len(drop) == 0 {
		return nil
	}
	key := s.pairsKey(user, backend)
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		if len(drop) > 0 {
			p.HDel(ctx, key, drop...)
		}
		if len(put) > 0 {
			kv := make([]any, 0, 2*len(put))
			for k, pr := range put {
				flag := "0"
				if pr.Mapped {
					flag = "1"
				}
				kv = append(kv, k, flag+pr.UIDL)
			}
			p.HSet(ctx, key, kv...)
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
	out, err := s.c.SMembers(ctx, s.usersKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("uidl store: users: %w", err)
	}
	slices.Sort(out)
	return out, nil
}
