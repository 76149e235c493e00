package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/popgate/popgate/store"
)

var _ store.BreakStore = (*Store)(nil)

func (s *Store) breaksKey(user string) string { return s.prefix + "breaks:" + user }

// Breaks implements store.BreakStore: one JSON value per user, so every
// instance sees the transfers any of them saw broken off.
func (s *Store) Breaks(ctx context.Context, user string) (store.Breaks, error) {
	var b store.Breaks
	v, err := s.c.Get(ctx, s.breaksKey(user)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return b, nil
	}
	if err == nil {
		err = json.Unmarshal(v, &b)
	}
	if err != nil {
		return store.Breaks{}, fmt.Errorf("breaks of %s: %w", user, err)
	}
	return b, nil
}

// SetBreaks implements store.BreakStore.
func (s *Store) SetBreaks(ctx context.Context, user string, b store.Breaks) error {
	if b.Empty() {
		return s.c.Del(ctx, s.breaksKey(user)).Err()
	}
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return s.c.Set(ctx, s.breaksKey(user), v, 0).Err()
}
