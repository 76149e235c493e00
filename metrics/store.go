package metrics

import "github.com/prometheus/client_golang/prometheus"

// storeMetrics describe the shared state store (Redis or bbolt).
type storeMetrics struct {
	up      prometheus.Gauge
	outages *prometheus.CounterVec
}

func newStoreMetrics() storeMetrics {
	return storeMetrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "store_up",
			Help: "1 while the state store answers, else 0.",
		}),
		outages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_outages_total",
			Help: "Times a part of popgate (throttle, uidl) lost the state store and carried on without it.",
		}, []string{"part"}),
	}
}

// StoreUp records whether the state store answers.
func (m *Metrics) StoreUp(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.store.up.Set(v)
}

// StoreOutage counts the start of an outage of the store as seen by part.
func (m *Metrics) StoreOutage(part string) { m.store.outages.WithLabelValues(part).Inc() }
