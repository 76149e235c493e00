package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// QueueLength exports n() as the number of logins waiting for a session
// slot of backend. Call it once per backend, when wiring the throttle.
func (m *Metrics) QueueLength(backend string, n func() int) error {
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace:   namespace,
		Name:        "throttle_queue_length",
		Help:        "Logins waiting for a backend session slot.",
		ConstLabels: prometheus.Labels{"backend": backend},
	}, func() float64 { return float64(n()) }))
}

// RouteReload counts a routes table reload; err is its outcome.
func (m *Metrics) RouteReload(err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.reloads.WithLabelValues(result).Inc()
	m.routesLoaded(err)
}

// routesLoaded sets the last-reload gauges after a load of the routes
// table, the first one included.
func (m *Metrics) routesLoaded(err error) {
	if err != nil {
		m.reloadOK.Set(0)
		return
	}
	m.reloadOK.Set(1)
	m.reloadOKTime.SetToCurrentTime()
}

// RoutesLoaded records the routes table loaded at start: the reload
// gauges then say 1 until a reload fails.
func (m *Metrics) RoutesLoaded() { m.routesLoaded(nil) }

// BackendUp records the outcome of a backend's health check.
func (m *Metrics) BackendUp(backend string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.backendUp.WithLabelValues(backend).Set(v)
}
