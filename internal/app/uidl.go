package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/migrate"
	"github.com/popgate/popgate/rewrite"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/bolt"
)

// openUIDLStore opens the UIDL map of POPGATE_STORE.
func openUIDLStore(cfg config.Config) (store.UIDLStore, error) {
	if err := os.MkdirAll(cfg.Store.Location, 0o700); err != nil {
		return nil, fmt.Errorf("UIDL store: %w", err)
	}
	st, err := bolt.Open(cfg.Store.Location)
	if err != nil {
		return nil, fmt.Errorf("UIDL store in %s: %w", cfg.Store.Location, err)
	}
	return st, nil
}

// uidlDecorator returns the UIDL continuity decorator: sessions on legacy
// backends are learned from, sessions on the others get legacy UIDLs. It
// returns nil when POPGATE_UIDL_DISABLE is set.
func uidlDecorator(cfg config.Config, st store.UIDLStore, log *zap.Logger) *rewrite.Decorator {
	o, legacy, ok := cfg.UIDLOptions()
	if !ok {
		return nil
	}
	o.Store, o.Logger = st, log
	return rewrite.NewDecorator(o, legacy...)
}

// uidlCommand runs "popgate uidl import|show|verify".
func uidlCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, _, ok := loadConfig(environ, stderr)
	if !ok {
		return exitUsage
	}
	openers, closer, err := openBackends(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	defer closer.Close()
	env := migrate.Env{
		DataDir:  cfg.Store.Location,
		Backends: openers,
		Getenv:   lookup(environ),
		Stdin:    os.Stdin,
	}
	if names := cfg.LegacyBackends(); len(names) > 0 {
		env.LegacyBackend = names[0]
		if len(cfg.UIDL.LearnFrom) > 0 {
			env.LegacyBackend = cfg.UIDL.LearnFrom[0]
		}
	}
	return migrate.Main(ctx, args, env, stdout, stderr)
}

// lookup reads a variable from environ (os.Environ form).
func lookup(environ []string) func(string) string {
	return func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
}
