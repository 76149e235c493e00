package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Leases are the cluster-wide session locks (lock.Leases) under
// PREFIX lock:MAILDROP. Each call is one script run, so a lease is only
// renewed or dropped by its holder.
type Leases struct {
	c      goredis.UniversalClient
	prefix string
}

// Leases returns the store's session leases.
func (s *Store) Leases() *Leases { return &Leases{c: s.c, prefix: s.prefix + "lock:"} }

var (
	takeScript = goredis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('GET', KEYS[1])`)
	renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	dropScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// Take implements lock.Leases.
func (l *Leases) Take(ctx context.Context, key, holder string, ttl time.Duration) (bool, string, error) {
	current, err := takeScript.Run(ctx, l.c, []string{l.prefix + key}, holder, ttl.Milliseconds()).Text()
	if errors.Is(err, goredis.Nil) {
		return true, "", nil
	}
	if err != nil {
		return false, "", err
	}
	return false, current, nil
}

// Renew implements lock.Leases.
func (l *Leases) Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, l.c, []string{l.prefix + key}, holder, ttl.Milliseconds()).Int()
	return n == 1, err
}

// Drop implements lock.Leases.
func (l *Leases) Drop(ctx context.Context, key, holder string) error {
	return dropScript.Run(ctx, l.c, []string{l.prefix + key}, holder).Err()
}
