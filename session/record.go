package session

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
	// ResultRefused is a connection refused by a connection limit, which
	// Record.Limit names.
	ResultRefused = "refused"
)

// Record is what one session did; it becomes the session line and is handed
// to whoever counts sessions (metrics).
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
	// Limit names the connection limit that refused the session, if one did.
	Limit string
	// Err is the cause when Result is not ok; it names the backend, the
	// user and what failed.
	Err error

	// The parts below are filled in by Reporters; nil when none took part
	// in the session.
	Mapping    *Mapping
	Learning   *Learning
	Throttling *Throttling
}

// Mapping is what a UIDL mapper did to a session on a new backend.
type Mapping struct {
	Mapped   int // messages shown under their legacy UIDL
	Unmapped int // messages that kept their new UIDL
}

// Learning is what a UIDL learner took from a session on a legacy backend.
type Learning struct {
	Learned int // fingerprints learned
	Fetched int // headers fetched at QUIT to learn them
	// Unchanged is set when QUIT skipped learning because the maildrop was
	// learned completely a short while ago and has not changed.
	Unchanged bool
}

// Throttling is what the login gate did to a session.
type Throttling struct {
	Penalty int // the penalty level, 0 at full speed
	// Delay is the time the login was held on purpose.
	Delay time.Duration
	// Reason lists the causes of a penalty or delay joined with "+"
	// (size, frequency, auth_failures, queue); empty if none.
	Reason string
}

// Fields returns the session line's fields, in a stable order. uidl_mapped,
// penalty and delay_ms are always there, 0 when nothing reported them; the
// other reported fields appear only with their reporter.
func (r *Record) Fields() []zap.Field {
	errText := ""
	if r.Err != nil {
		errText = r.Err.Error()
	}
	var (
		mp Mapping
		th Throttling
	)
	if r.Mapping != nil {
		mp = *r.Mapping
	}
	if r.Throttling != nil {
		th = *r.Throttling
	}
	fs := make([]zap.Field, 0, 28)
	fs = append(fs,
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
		zap.Int("uidl_mapped", mp.Mapped),
		zap.Int("penalty", th.Penalty),
		zap.Int64("delay_ms", th.Delay.Milliseconds()),
		zap.Int64("duration_ms", r.Duration.Milliseconds()),
		zap.String("result", r.Result),
		zap.String("error", errText),
	)
	if r.Mapping != nil {
		fs = append(fs, zap.Int("uidl_unmapped", mp.Unmapped))
	}
	if l := r.Learning; l != nil {
		fs = append(fs, zap.Int("uidl_learned", l.Learned), zap.Int("uidl_fetched", l.Fetched))
		if l.Unchanged {
			fs = append(fs, zap.Bool("uidl_unchanged", true))
		}
	}
	if r.Throttling != nil {
		fs = append(fs, zap.String("throttle_reason", th.Reason))
	}
	if r.Limit != "" {
		fs = append(fs, zap.String("limit", r.Limit))
	}
	return fs
}
