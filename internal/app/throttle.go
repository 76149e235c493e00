package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/metrics"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/bolt"
	redisstore "github.com/popgate/popgate/store/redis"
	"github.com/popgate/popgate/throttle"
)

// newThrottle builds the login gate from the configuration, with each
// backend's max_sessions as its admission limit. With POPGATE_THROTTLE=off
// it penalises nobody but still enforces the limits. Its state lives in
// the store: the bbolt file (surviving a restart) or the shared Redis. An
// outage of the store is logged once and counted; the throttle lets logins
// through meanwhile.
func newThrottle(cfg config.Config, st store.UIDLStore, log *zap.Logger, m *metrics.Metrics) (*throttle.Throttle, error) {
	kv, err := throttleKV(st)
	if err != nil {
		return nil, err
	}
	return throttle.New(cfg.ThrottleSettings(), throttle.Options{
		MaxSessions: cfg.SessionLimits(),
		Persist:     kv,
		StoreDown: func(err error) {
			log.Warn("state store unavailable: throttling is off until it is back", zap.Error(err))
			m.StoreOutage("throttle")
		},
		StoreUp: func() { log.Info("state store back: throttling again") },
	})
}

// throttleKV returns the store's table for the throttle state.
func throttleKV(st store.UIDLStore) (throttle.KV, error) {
	switch st := st.(type) {
	case *bolt.Store:
		return st.KV()
	case *redisstore.Store:
		return st.KV(), nil
	}
	return nil, nil
}

// throttleCommand runs "popgate throttle show|reset USER". A shared store
// is used directly; bbolt's file belongs to the serving process, so the
// command asks that process's admin listener.
func throttleCommand(ctx context.Context, verb, user string, environ []string, stdout, stderr io.Writer) int {
	cfg, ok := loadCommandConfig(environ, stderr)
	if !ok {
		return exitUsage
	}
	if cfg.Store.Shared() {
		return throttleInStore(ctx, cfg, verb, user, stdout, stderr)
	}
	method, path := http.MethodGet, "/throttle"
	if verb == "reset" {
		method, path = http.MethodPost, "/throttle/reset"
	}
	body, code := askAdmin(ctx, method, path, url.Values{"user": {user}}.Encode(), environ, stderr)
	if code == exitOK {
		stdout.Write(body)
	}
	return code
}

// throttleInStore shows or resets a user's throttle state in the shared
// store, printing the Report the admin endpoint would.
func throttleInStore(ctx context.Context, cfg config.Config, verb, user string, stdout, stderr io.Writer) int {
	st, err := openUIDLStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	defer st.Close()
	var storeErr error
	kv, err := throttleKV(st)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	thr, err := throttle.New(cfg.ThrottleSettings(), throttle.Options{
		Persist: kv, StoreDown: func(err error) { storeErr = err },
	})
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	if verb == "reset" {
		thr.Reset(user)
	}
	rep := thr.Report(user)
	if storeErr != nil {
		fmt.Fprintf(stderr, "popgate: throttle %s %s: %v\n", verb, user, storeErr)
		return exitFailure
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	return exitOK
}
