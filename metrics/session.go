package metrics

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/popgate/popgate/proxy"
)

// SessionEnded counts one finished session; it is proxy.Options.OnSessionEnd.
func (m *Metrics) SessionEnded(r *proxy.Record) {
	backend := r.Backend
	if backend == "" {
		backend = "none" // the client never got as far as a route
	}
	m.sessions.WithLabelValues(backend, r.Result).Inc()
	if r.RetrMsgs > 0 {
		m.retrMsgs.WithLabelValues(backend).Add(float64(r.RetrMsgs))
		m.retrBytes.WithLabelValues(backend).Add(float64(r.RetrBytes))
	}
	if n, ok := intField(r.Extra, "uidl_mapped"); ok {
		m.uidl.WithLabelValues("mapped").Add(float64(n))
	}
	if n, ok := intField(r.Extra, "uidl_unmapped"); ok {
		m.uidl.WithLabelValues("unmapped").Add(float64(n))
	}
	if ms, ok := intField(r.Extra, "delay_ms"); ok && ms > 0 {
		m.throttleDelay.Observe(float64(ms) / 1000)
	}
}

// intField returns the value of the integer field key, the last one
// reported winning, as on the session line.
func intField(fs []zap.Field, key string) (n int64, ok bool) {
	for _, f := range fs {
		if f.Key != key {
			continue
		}
		switch f.Type {
		case zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type,
			zapcore.Uint64Type, zapcore.Uint32Type, zapcore.Uint16Type, zapcore.Uint8Type:
			n, ok = f.Integer, true
		}
	}
	return n, ok
}
