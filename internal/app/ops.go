package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/health"
	"github.com/popgate/popgate/metrics"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/upstream"
)

// operations are what an operator watches a server by: metrics, backend
// health checks, and the admin endpoints serving both.
type operations struct {
	log     *zap.Logger
	metrics *metrics.Metrics
	health  *health.Checker
	// Mux serves /metrics, /healthz and /readyz; other admin handlers may
	// be added to it before start.
	Mux *http.ServeMux
	// listening is true while the POP3 listeners accept; /readyz turns 503
	// as soon as a drain starts, so a balancer stops sending clients.
	listening atomic.Bool

	pausable   []*drainListener
	lastAccept atomic.Int64

	cancel context.CancelFunc
	srv    *http.Server
	wg     sync.WaitGroup
}

func newOperations(cfg config.Config, log *zap.Logger) *operations {
	o := &operations{log: log, metrics: metrics.New(), Mux: http.NewServeMux()}
	o.metrics.BuildInfo(version())
	ho := cfg.Ops.HealthOptions()
	ho.Logger, ho.OnChange = log, o.metrics.BackendUp
	o.health = health.New(ho)
	o.Mux.Handle("GET /metrics", o.metrics.Handler())
	o.Mux.Handle("GET /healthz", health.Healthz())
	o.Mux.Handle("GET /readyz", o.health.Readyz(o.listening.Load))
	return o
}

// prober is a backend that can be health-checked (upstream.Backend).
type prober interface {
	Probe(ctx context.Context) error
}

// wrapOpeners health-checks each backend that can be probed (the legacy
// POP3 servers) and refuses its logins fast while it is down, and times
// every backend for the metrics.
func (o *operations) wrapOpeners(openers map[string]pop3.Opener) map[string]pop3.Opener {
	out := make(map[string]pop3.Opener, len(openers))
	for name, op := range openers {
		o.watchPool(name, op)
		if p, ok := op.(prober); ok {
			o.health.Add(name, p.Probe)
			op = o.health.Guard(name, op)
		}
		out[name] = o.metrics.WrapOpener(name, op)
	}
	return out
}

// pooler is a backend that keeps greeted connections (upstream.Backend).
type pooler interface {
	PoolStats() upstream.PoolStats
}

// watchPool exports the pool of greeted connections of a backend that
// keeps one.
func (o *operations) watchPool(name string, op pop3.Opener) {
	p, ok := op.(pooler)
	if !ok || !p.PoolStats().Enabled {
		return
	}
	err := o.metrics.WatchPool(name, func() metrics.PoolStats {
		s := p.PoolStats()
		return metrics.PoolStats{Idle: s.Idle, Taken: s.Taken, Missed: s.Missed, Discarded: s.Discarded, Refreshed: s.Refreshed}
	})
	if err != nil {
		o.log.Warn("backend pool metrics not registered", zap.String("backend", name), zap.Error(err))
	}
}

// pinger is a store that can tell whether it is reachable (store/redis).
type pinger interface {
	Ping(ctx context.Context) error
}

// watchStore checks a shared store with the backends: /readyz fails while
// it is unreachable, and popgate_store_up follows it. The embedded store
// cannot be unreachable and is not watched.
func (o *operations) watchStore(st any) {
	if p, ok := st.(pinger); ok {
		o.health.WatchStore(p.Ping, o.metrics.StoreUp)
	}
}

// start runs the health checks and, if admin is not nil, serves the admin
// endpoints on it, until stop.
func (o *operations) start(admin net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	o.wg.Go(func() { o.health.Run(ctx) })
	if admin == nil {
		return
	}
	o.srv = &http.Server{Handler: o.Mux, ReadHeaderTimeout: 10 * time.Second}
	o.wg.Go(func() {
		if err := o.srv.Serve(admin); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("admin endpoints stopped", zap.Error(err))
		}
	})
}

// stop ends the health checks and the admin server.
func (o *operations) stop() {
	if o.cancel == nil {
		return
	}
	o.cancel()
	if o.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.srv.Shutdown(ctx); err != nil {
			o.srv.Close()
		}
	}
	o.wg.Wait()
}

// countSessions counts l's connections as active sessions and lets a drain
// stop accepting on it; nil stays nil.
func (o *operations) countSessions(l net.Listener) net.Listener {
	if l == nil {
		return nil
	}
	dl := newDrainListener(l, &o.lastAccept)
	o.pausable = append(o.pausable, dl)
	return o.metrics.CountListener(dl)
}

// beginDrain turns /readyz to 503, stops accepting, and waits until
// acceptGrace has passed since the last accepted connection (at most
// limit), so that clients that just connected can finish logging in.
func (o *operations) beginDrain(limit time.Duration) {
	o.listening.Store(false)
	for _, l := range o.pausable {
		l.pause()
	}
	last := time.Unix(0, o.lastAccept.Load())
	wait := min(time.Until(last.Add(acceptGrace)), limit)
	if wait > 0 {
		time.Sleep(wait)
	}
}

// watchThrottle exports each backend's login queue from sessions (the
// throttle's Sessions method) as popgate_throttle_queue_length. The
// throttle wiring calls it once, after building the throttle.
func (o *operations) watchThrottle(backends []string, sessions func(backend string) (active, waiting int)) {
	for _, name := range backends {
		err := o.metrics.QueueLength(name, func() int {
			_, waiting := sessions(name)
			return waiting
		})
		if err != nil {
			o.log.Warn("throttle queue metric not registered", zap.String("backend", name), zap.Error(err))
		}
	}
}
