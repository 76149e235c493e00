// Package memstore is an in-memory store.UIDLStore for tests and for
// running without a data directory.
package memstore

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/popgate/popgate/store"
)

// Store is an in-memory store.UIDLStore. The zero value is not usable; call New.
type Store struct {
	mu     sync.Mutex
	legacy map[string][]store.Entry
	pairs  map[[2]string]map[string]store.Pair
	breaks map[string]store.Breaks
}

var (
	_ store.UIDLStore  = (*Store)(nil)
	_ store.BreakStore = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{legacy: map[string][]store.Entry{}, pairs: map[[2]string]map[string]store.Pair{},
		breaks: map[string]store.Breaks{}}
}

// Breaks implements store.BreakStore.
func (s *Store) Breaks(ctx context.Context, user string) (store.Breaks, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breaks[user]
	b.Poison = slices.Clone(b.Poison)
	return b, nil
}

// SetBreaks implements store.BreakStore.
func (s *Store) SetBreaks(ctx context.Context, user string, b store.Breaks) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.Empty() {
		delete(s.breaks, user)
		return nil
	}
	b.Poison = slices.Clone(b.Poison)
	s.breaks[user] = b
	return nil
}

// Legacy implements store.UIDLStore.
func (s *Store) Legacy(ctx context.Context, user string) ([]store.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.legacy[user]), nil
}

// SetLegacy implements store.UIDLStore.
func (s *Store) SetLegacy(ctx context.Context, user string, present []store.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legacy[user] = store.MergeLegacy(s.legacy[user], present)
	return nil
}

// Pairs implements store.UIDLStore.
func (s *Store) Pairs(ctx context.Context, user, backend string) (map[string]store.Pair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.pairs[[2]string{user, backend}]), nil
}

// UpdatePairs implements store.UIDLStore.
func (s *Store) UpdatePairs(ctx context.Context, user, backend string, put map[string]store.Pair, drop []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{user, backend}
	if s.pairs[k] == nil {
		s.pairs[k] = map[string]store.Pair{}
	}
	maps.Copy(s.pairs[k], put)
	for _, d := range drop {
		delete(s.pairs[k], d)
	}
	return nil
}

// Users implements store.UIDLStore.
func (s *Store) Users(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.legacy)), nil
}

// Close implements store.UIDLStore.
func (s *Store) Close() error { return nil }
