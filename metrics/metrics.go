package metrics

import (
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name.
const namespace = "popgate"

// latencyBuckets span a fast local login (a millisecond) to a backend at
// its default 60s command timeout.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics holds every popgate metric. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	sessions      *prometheus.CounterVec
	active        prometheus.Gauge
	logins        *prometheus.CounterVec
	retrBytes     *prometheus.CounterVec
	retrMsgs      *prometheus.CounterVec
	openSeconds   *prometheus.HistogramVec
	cmdSeconds    *prometheus.HistogramVec
	backendErrors *prometheus.CounterVec
	throttleDelay prometheus.Histogram
	uidl          *prometheus.CounterVec
	poison        *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	reloadOK      prometheus.Gauge
	reloadOKTime  prometheus.Gauge
	backendUp     *prometheus.GaugeVec
	buildInfo     *prometheus.GaugeVec
	store         storeMetrics
	limits        *prometheus.CounterVec
}

// New returns Metrics registered on a fresh registry, together with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sessions_total",
			Help: "Client sessions ended, by backend and session line result.",
		}, []string{"backend", "result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "active_sessions",
			Help: "Client connections open now.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Backend logins by backend and outcome (ok, auth_failed, in_use, login_delay, unavailable, error).",
		}, []string{"backend", "outcome"}),
		retrBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "retr_bytes_total",
			Help: "Message octets relayed to clients by RETR and TOP, by backend.",
		}, []string{"backend"}),
		retrMsgs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "retr_messages_total",
			Help: "Messages relayed to clients by RETR and TOP, by backend.",
		}, []string{"backend"}),
		openSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "backend_open_seconds",
			Help:    "Time to open a maildrop on a backend (dial, greeting, login), by backend.",
			Buckets: latencyBuckets,
		}, []string{"backend"}),
		cmdSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "backend_response_seconds",
			Help:    "Time for a backend to answer one command (for RETR and TOP, until the body starts), by backend and command.",
			Buckets: latencyBuckets,
		}, []string{"backend", "command"}),
		backendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "backend_errors_total",
			Help: "Backend failures by backend, operation (open or the command) and kind (timeout, unavailable, temporary, permanent, other).",
		}, []string{"backend", "op", "kind"}),
		throttleDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "throttle_delay_seconds",
			Help:    "Time logins were held back by throttling.",
			Buckets: []float64{0, .1, .5, 1, 2, 5, 10, 20, 30, 60},
		}),
		uidl: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "uidl_messages_total",
			Help: "Messages of moved users resolved for the first time: mapped to their legacy UIDL (mapped), new mail that arrived after the move (new), old mail that matched no legacy UIDL (unmatched).",
		}, []string{"kind"}),
		poison: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "poison_messages_total",
			Help: "Messages flagged as poison (clients broke off their transfer too often in a row), by backend.",
		}, []string{"backend"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "routes_reloads_total",
			Help: "Routes table reloads by result (ok, failed).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "routes_last_reload_successful",
			Help: "1 if the last routes table load succeeded, else 0 (the previous table is still in use).",
		}),
		reloadOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "routes_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful routes table load, in seconds since the epoch.",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1; the labels name the popgate version and the Go version it was built with.",
		}, []string{"version", "goversion"}),
		backendUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "backend_up",
			Help: "1 if the backend's last health check succeeded, else 0.",
		}, []string{"backend"}),
		store: newStoreMetrics(),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "connection_limit_refusals_total",
			Help: "Connections refused by a connection limit (prelogin_total, prelogin_address, user_address).",
		}, []string{"limit"}),
	}
	m.store.up.Set(1)
	m.reg.MustRegister(m.store.up, m.store.outages)
	m.reg.MustRegister(
		m.sessions, m.active, m.logins, m.retrBytes, m.retrMsgs, m.openSeconds, m.cmdSeconds,
		m.backendErrors, m.throttleDelay, m.uidl, m.poison, m.reloads, m.reloadOK, m.reloadOKTime, m.backendUp, m.buildInfo,
		m.limits,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Both results exist from the start, so a rate() over them works
	// before the first failure.
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	return m
}

// BuildInfo sets popgate_build_info for version, the release the binary
// reports.
func (m *Metrics) BuildInfo(version string) {
	m.buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
}

// WatchPreLogin exports n, the connections that have not logged in, as a
// gauge.
func (m *Metrics) WatchPreLogin(n func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "prelogin_connections",
		Help: "Connections that have not logged in (yet).",
	}, func() float64 { return float64(n()) }))
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
