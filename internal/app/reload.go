package app

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/popgate/popgate/routes"
)

// reloadRoutes reloads the routes table on SIGHUP (or on trigger, for
// tests) and when the file changes, logging each outcome, until the
// returned stop is called. router may be nil when there is no routes file;
// SIGHUP is caught anyway, since its default action would kill the server.
// The signal handler is installed before reloadRoutes returns. Each
// reload's outcome is also passed to counted, when set (metrics).
func reloadRoutes(router *routes.Router, log *zap.Logger, trigger <-chan struct{}, counted func(error)) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	report := func(cause string, d routes.Diff, err error) {
		logReload(log, router, cause, d, err)
		if counted != nil {
			counted(err)
		}
	}
	wg.Go(func() { reloadOnSignal(ctx, router, log, hup, trigger, report) })
	if router != nil {
		wg.Go(func() {
			router.Watch(ctx, routes.DefaultPollInterval, func(d routes.Diff, err error) {
				report("file changed", d, err)
			})
		})
	}
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}

func reloadOnSignal(ctx context.Context, r *routes.Router, log *zap.Logger, hup <-chan os.Signal, trigger <-chan struct{},
	report func(cause string, d routes.Diff, err error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-trigger:
		}
		if r == nil {
			log.Info("SIGHUP ignored: no routes file (POPGATE_ROUTES)")
			continue
		}
		d, err := r.Reload()
		report("SIGHUP", d, err)
	}
}

// logReload logs the outcome of a routes reload.
func logReload(log *zap.Logger, r *routes.Router, cause string, d routes.Diff, err error) {
	if err != nil {
		log.Error("routes reload failed; keeping the previous table",
			zap.String("file", r.Path()), zap.String("cause", cause), zap.Error(err))
		return
	}
	added, removed, moved := d.Counts()
	log.Info("routes reloaded", zap.String("file", r.Path()), zap.String("cause", cause),
		zap.Int("rules", d.After), zap.Int("added", added), zap.Int("removed", removed),
		zap.Int("moved", moved), zap.String("changes", d.String()))
}
