package proxy

import (
	"time"

	"go.uber.org/zap"
)

// Session results, the session line's "result" field.
const (
	ResultOK            = "ok"
	ResultAuthFailed    = "auth_failed"
	ResultThrottled     = "throttled"
	ResultClientGone    = "client_gone"
	ResultTimeout       = "timeout"
	ResultBackendError  = "backend_error"
	ResultProtocolError = "protocol_error"
)

// Record is what one session did; it becomes the session line and is handed
// to Options.OnSessionEnd.
type Record struct {
	Session string
	Client  string // after the PROXY header
	Via     string // the balancer that sent the PROXY header, if any
	User    string
	Backend string
	TLS     string // none, stls, implicit
	Auth    string // ok, failed, none

	Msgs  int   // maildrop at login
	Bytes int64 // maildrop at login
	// RetrMsgs and RetrBytes count message data sent by RETR and TOP (the
	// latter is how fetchmail downloads), in octets before dot-stuffing.
	RetrMsgs     int
	RetrBytes    int64
	DeletedMsgs  int
	DeletedBytes int64
	LeftMsgs     int
	LeftBytes    int64

	Start    time.Time
	Duration time.Duration
	Result   string
	// Err is the cause when Result is not ok; it names the backend, the
	// user and what failed.
	Err error
	// Extra are the fields reported by FieldReporters (uidl_mapped,
	// penalty, delay_ms, throttle_reason, ...).
	Extra []zap.Field
}

// defaultFields are session line keys that a FieldReporter may supply; they
// are logged as 0 when none does.
var defaultFields = []string{"uidl_mapped", "penalty", "delay_ms"}

// Fields returns the session line's fields, in a stable order.
func (r *Record) Fields() []zap.Field {
	errText := ""
	if r.Err != nil {
		errText = r.Err.Error()
	}
	fs := []zap.Field{
		zap.String("session", r.Session),
		zap.String("client", r.Client),
		zap.String("via", r.Via),
		zap.String("user", r.User),
		zap.String("backend", r.Backend),
		zap.String("tls", r.TLS),
		zap.String("auth", r.Auth),
		zap.Int("msgs", r.Msgs),
		zap.Int64("bytes", r.Bytes),
		zap.Int("retr_msgs", r.RetrMsgs),
		zap.Int64("retr_bytes", r.RetrBytes),
		zap.Int("deleted_msgs", r.DeletedMsgs),
		zap.Int64("deleted_bytes", r.DeletedBytes),
		zap.Int("left_msgs", r.LeftMsgs),
		zap.Int64("left_bytes", r.LeftBytes),
	}
	reported := map[string]bool{}
	for _, f := range r.Extra {
		reported[f.Key] = true
	}
	for _, k := range defaultFields {
		if !reported[k] {
			fs = append(fs, zap.Int(k, 0))
		}
	}
	fs = append(fs,
		zap.Int64("duration_ms", r.Duration.Milliseconds()),
		zap.String("result", r.Result),
		zap.String("error", errText),
	)
	return append(fs, r.Extra...)
}
