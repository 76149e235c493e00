package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/rewrite"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/bolt"
	"github.com/popgate/popgate/store/httpstore"
	redisstore "github.com/popgate/popgate/store/redis"
)

// storeDialTimeout bounds the first contact with a shared store.
const storeDialTimeout = 5 * time.Second

// openUIDLStore opens the UIDL map of POPGATE_STORE, for the server and for
// "popgate uidl".
func openUIDLStore(ctx context.Context, cfg config.Config) (store.UIDLStore, error) {
	if cfg.Store.Shared() {
		ctx, cancel := context.WithTimeout(ctx, storeDialTimeout)
		defer cancel()
		return redisstore.Open(ctx, cfg.Store.URL(), cfg.StorePrefix)
	}
	if err := os.MkdirAll(cfg.Store.Location, 0o700); err != nil {
		return nil, fmt.Errorf("UIDL store: %w", err)
	}
	st, err := bolt.Open(cfg.Store.Location)
	if err != nil {
		return nil, fmt.Errorf("UIDL store in %s: %w", cfg.Store.Location, err)
	}
	return st, nil
}

// openStoreForCommand opens the UIDL map for "popgate uidl": a shared store
// directly; bbolt through the admin listener of a server running with the
// same configuration (which holds the file), else the file itself.
func openStoreForCommand(ctx context.Context, cfg config.Config) (store.UIDLStore, error) {
	if !cfg.Store.Shared() && cfg.AdminListen.Enabled() {
		if c, err := httpstore.Dial(ctx, dialable(string(cfg.AdminListen))); err == nil {
			return c, nil
		}
	}
	st, err := openUIDLStore(ctx, cfg)
	if err != nil && !cfg.Store.Shared() {
		return nil, fmt.Errorf("%w (if popgate is running, it holds the file: let this command reach it through POPGATE_ADMIN_LISTEN)", err)
	}
	return st, err
}

// sessionLeases returns the cluster-wide session locks of a shared store,
// nil for bbolt (one instance, whose own lock suffices).
func sessionLeases(st store.UIDLStore) lock.Leases {
	if rs, ok := st.(*redisstore.Store); ok {
		return rs.Leases()
	}
	return nil
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
