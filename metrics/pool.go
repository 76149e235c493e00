package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats are the counters of one backend's pool of greeted connections
// to a legacy server.
type PoolStats struct {
	Idle                                int
	Taken, Missed, Discarded, Refreshed uint64
}

// poolCollector reads a backend's pool counters at each scrape.
type poolCollector struct {
	idle, events *prometheus.Desc
	stats        func() PoolStats
}

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.idle
	ch <- c.events
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.Idle))
	for _, e := range []struct {
		event string
		n     uint64
	}{{"taken", s.Taken}, {"missed", s.Missed}, {"discarded", s.Discarded}, {"refreshed", s.Refreshed}} {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(e.n), e.event)
	}
}

// WatchPool exports a legacy backend's pool of greeted connections, read
// from stats at each scrape. Call it once per backend that keeps a pool.
func (m *Metrics) WatchPool(backend string, stats func() PoolStats) error {
	labels := prometheus.Labels{"backend": backend}
	return m.reg.Register(poolCollector{
		idle: prometheus.NewDesc(namespace+"_backend_pool_idle_connections",
			"Connections to a legacy backend greeted and waiting for a login.", nil, labels),
		events: prometheus.NewDesc(namespace+"_backend_pool_events_total",
			"Pool of greeted connections by event: taken (a login used one), missed (the pool was empty), "+
				"discarded (found dead when taken, or a refill failed), refreshed (closed with QUIT at its maximum age).",
			[]string{"event"}, labels),
		stats: stats,
	})
}
