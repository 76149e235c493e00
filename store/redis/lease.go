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

// Holder returns who holds the lease on key and for how much longer; ""
// when nobody does. It is one pipelined round trip, for doctor.
func (l *Leases) Holder(ctx context.Context, key string) (string, time.Duration, error) {
	var get *goredis.StringCmd
	var ttl *goredis.DurationCmd
	_, err := l.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get, ttl = p.Get(ctx, l.prefix+key), p.PTTL(ctx, l.prefix+key)
		return nil
	})
	if errors.Is(err, goredis.Nil) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	return get.Val(), max(ttl.Val(), 0), nil
}
