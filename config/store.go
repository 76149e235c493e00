package config

import (
	"fmt"
	"strings"
)

// Store kinds.
const (
	StoreBolt  = "bolt"  // embedded bbolt database in a directory
	StoreRedis = "redis" // shared Redis, for several popgate instances
)

// StoreURL says where persistent state lives: bolt://DIR keeps a bbolt
// database in DIR (bolt://./popgate-data, bolt:///var/lib/popgate);
// redis://host:port/db is accepted but not yet supported (Validate says so).
type StoreURL struct {
	Scheme   string `env:"-"`
	Location string `env:"-"` // DIR for bolt, host:port/db for redis
}

// UnmarshalText parses scheme://location.
func (s *StoreURL) UnmarshalText(b []byte) error {
	raw := strings.TrimSpace(string(b))
	scheme, loc, ok := strings.Cut(raw, "://")
	if !ok {
		return fmt.Errorf("%q: want bolt://DIR or redis://HOST:PORT", raw)
	}
	switch scheme {
	case StoreBolt, StoreRedis:
	default:
		return fmt.Errorf("unknown store %q (want bolt or redis)", scheme)
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
	if s.Scheme == StoreRedis {
		if at := strings.LastIndex(loc, "@"); at >= 0 {
			if user, _, hasPass := strings.Cut(loc[:at], ":"); hasPass {
				loc = user + ":" + redacted + loc[at:]
			}
		}
	}
	return s.Scheme + "://" + loc
}
