package config

import (
	"fmt"
	"strings"
)

// Store kinds.
const (
	StoreBolt   = "bolt"   // embedded bbolt database in a directory
	StoreRedis  = "redis"  // shared Redis, for several popgate instances
	StoreRediss = "rediss" // shared Redis over TLS
)

// StoreURL says where persistent state lives: bolt://DIR keeps a bbolt
// database in DIR (bolt://./popgate-data, bolt:///var/lib/popgate);
// redis://[user:pass@]host:port/db (rediss:// for TLS) keeps it in a Redis
// shared by several popgate instances.
type StoreURL struct {
	Scheme   string `env:"-"`
	Location string `env:"-"` // DIR for bolt, [user:pass@]host:port/db for redis
}

// Shared reports whether the store is a Redis shared between instances.
func (s StoreURL) Shared() bool { return s.Scheme == StoreRedis || s.Scheme == StoreRediss }

// URL returns scheme://location unredacted, for connecting.
func (s StoreURL) URL() string { return s.Scheme + "://" + s.Location }

// UnmarshalText parses scheme://location.
func (s *StoreURL) UnmarshalText(b []byte) error {
	raw := strings.TrimSpace(string(b))
	scheme, loc, ok := strings.Cut(raw, "://")
	if !ok {
		return fmt.Errorf("%q: want bolt://DIR or redis://HOST:PORT/DB", raw)
	}
	switch scheme {
	case StoreBolt, StoreRedis, StoreRediss:
	default:
		return fmt.Errorf("unknown store %q (want bolt, redis or rediss)", scheme)
	}
	if loc == "" {
		return fmt.Errorf("%q: the %s store needs a location", raw, scheme)
	}
	*s = StoreURL{Scheme: scheme, Location: loc}
	return nil
}

// String returns scheme://location, with a Redis password redacted.
func (s StoreURL) String() string {
	loc := s.Location
	if s.Shared() {
		if at := strings.LastIndex(loc, "@"); at >= 0 {
			if user, _, hasPass := strings.Cut(loc[:at], ":"); hasPass {
				loc = user + ":" + redacted + loc[at:]
			}
		}
	}
	return s.Scheme + "://" + loc
}
