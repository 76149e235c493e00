package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// KV is a key-value table under PREFIX throttle: with Redis expiry, for
// the throttle's state (throttle.KV) shared by every instance. Each call is
// one command.
type KV struct {
	c      goredis.UniversalClient
	prefix string
}

// KV returns the store's key-value table.
func (s *Store) KV() *KV { return &KV{c: s.c, prefix: s.prefix + "throttle:"} }

// Get implements throttle.KV.
func (kv *KV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := kv.c.Get(ctx, kv.prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Put implements throttle.KV.
func (kv *KV) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return kv.c.Set(ctx, kv.prefix+key, value, ttl).Err()
}

// Delete implements throttle.KV.
func (kv *KV) Delete(ctx context.Context, key string) error {
	return kv.c.Del(ctx, kv.prefix+key).Err()
}
