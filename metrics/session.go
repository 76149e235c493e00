package metrics

import "github.com/popgate/popgate/session"

// SessionEnded counts one finished session; it is the proxy's OnSessionEnd.
func (m *Metrics) SessionEnded(r *session.Record) {
	backend := r.Backend
	if backend == "" {
		backend = "none" // the client never got as far as a route
	}
	m.sessions.WithLabelValues(backend, r.Result).Inc()
	if r.Limit != "" {
		m.limits.WithLabelValues(r.Limit).Inc()
	}
	if r.RetrMsgs > 0 {
		m.retrMsgs.WithLabelValues(backend).Add(float64(r.RetrMsgs))
		m.retrBytes.WithLabelValues(backend).Add(float64(r.RetrBytes))
	}
	if mp := r.Mapping; mp != nil {
		m.uidl.WithLabelValues("mapped").Add(float64(mp.NewlyMapped))
		m.uidl.WithLabelValues("new").Add(float64(mp.New))
		m.uidl.WithLabelValues("unmatched").Add(float64(mp.Unmatched))
	}
	if r.Poison != nil {
		m.poison.WithLabelValues(backend).Inc()
	}
	if th := r.Throttling; th != nil && th.Delay > 0 {
		m.throttleDelay.Observe(th.Delay.Seconds())
	}
}
