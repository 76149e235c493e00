package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/migrate"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/proxy"
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
func uidlDecorator(cfg config.Config, st store.UIDLStore, log *zap.Logger) proxy.Decorator {
	c := cfg.UIDL
	if c.Budget == 0 {
		c.Budget = -1 // rewrite: zero means its default, negative none
	}
	d := rewrite.FromConfig(c, st, log, legacyNames(cfg))
	if d == nil {
		return nil
	}
	return func(_ context.Context, s *proxy.SessionInfo, m pop3.Mailbox) pop3.Mailbox {
		return d.Decorate(m, s.User, s.Backend)
	}
}

// legacyNames lists the pop3:// and pop3s:// backends.
func legacyNames(cfg config.Config) []string {
	var names []string
	for _, b := range cfg.Backends {
		if !b.Native() {
			names = append(names, b.Name)
		}
	}
	return names
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
	if names := legacyNames(cfg); len(names) > 0 {
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
