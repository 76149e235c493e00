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
	// ResultInUse: the credentials were accepted but the maildrop is
	// locked by another session ([IN-USE]).
	ResultInUse = "in_use"
	// ResultRefused is a connection refused by a connection limit, which
	// Record.Limit names.
	ResultRefused = "refused"
)

// What happened to the credentials, the session line's "auth" field.
const (
	AuthNone = "none" // the client sent none
	AuthOK   = "ok"   // accepted
	// AuthFailed: refused by the backend.
	AuthFailed = "failed"
	// AuthNotChecked: the login was refused before the credentials went
	// to a backend (no route, refused by the login gate).
	AuthNotChecked = "not_checked"
	// AuthUnknown: the backend failed without saying whether it accepted
	// them (unreachable, timed out, a SYS/TEMP error).
	AuthUnknown = "unknown"
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
	Auth    string // one of the Auth constants

	Msgs  int   // maildrop at login
	Bytes int64 // maildrop at login
	// RetrMsgs and RetrBytes count message data sent by RETR and TOP (the
	// latter is how fetchmail downloads), in octets before dot-stuffing.
	// A message counts once its terminating dot was written and the client
	// then sent a command or closed the connection cleanly, which it does
	// only after reading what was sent.
	RetrMsgs  int
	RetrBytes int64
	// Broken is the transfer the client did not take whole, nil if none.
	Broken       *BrokenTransfer
	DeletedMsgs  int
	DeletedBytes int64
	LeftMsgs     int
	LeftBytes    int64

	// AuthFailDelay is the proxy's pause before answering a refused
	// login.
	AuthFailDelay time.Duration

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
	// Poison is the message this session's broken transfer flagged as
	// poison, nil if none.
	Poison *Poison
	// Pooled is set when the login used a connection to the legacy
	// server that was opened and greeted ahead of it.
	Pooled bool
}

// Poison names a message that clients broke off often enough in a row to
// be flagged.
type Poison struct {
	Num  int
	UIDL string
}

// BrokenTransfer is a RETR or TOP that did not reach the client whole: the
// connection failed while the message was sent, or was reset with the
// reply still unread.
type BrokenTransfer struct {
	Num   int   // the message number
	Bytes int64 // octets of the message handed to the connection
}

// Mapping is what a UIDL mapper did to a session on a new backend.
type Mapping struct {
	Mapped   int // messages shown under their legacy UIDL
	Unmapped int // messages that kept their new UIDL
	// Of the messages resolved in this session for the first time (the
	// others come from the map): matched to a legacy UIDL, new mail
	// (arrived after the move), and old mail that matched nothing.
	NewlyMapped, New, Unmatched int
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
	// Delay is the time the login was held on purpose. AuthFailDelay (for
	// earlier failed logins) and QueueWait (for a backend session slot)
	// are parts of it; the rest is the login delay for the penalty.
	Delay         time.Duration
	AuthFailDelay time.Duration
	QueueWait     time.Duration
	// Shaping is the time RETR and TOP were held back for bandwidth.
	Shaping time.Duration
	// Reason lists the causes of a penalty or delay joined with "+"
	// (size, frequency, auth_failures, queue); empty if none.
	Reason string
}

// Fields returns the session line's fields, in a stable order. uidl_mapped,
// penalty, delay_ms and its parts wait_*_ms are always there, 0 when
// nothing reported them; the other reported fields appear only with their
// reporter. delay_ms is the sum of the parts as logged, so that they add
// up on the line.
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
	queueMS := th.QueueWait.Milliseconds()
	loginMS := (th.Delay - th.QueueWait - th.AuthFailDelay).Milliseconds()
	authFailMS := (th.AuthFailDelay + r.AuthFailDelay).Milliseconds()
	shapingMS := th.Shaping.Milliseconds()
	fs := make([]zap.Field, 0, 34)
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
		zap.Int64("delay_ms", queueMS+loginMS+authFailMS+shapingMS),
		zap.Int64("wait_queue_ms", queueMS),
		zap.Int64("wait_login_ms", loginMS),
		zap.Int64("wait_auth_fail_ms", authFailMS),
		zap.Int64("wait_shaping_ms", shapingMS),
		zap.Int64("duration_ms", r.Duration.Milliseconds()),
		zap.String("result", r.Result),
		zap.String("error", errText),
	)
	if b := r.Broken; b != nil {
		fs = append(fs, zap.Int("broken_msg", b.Num), zap.Int64("broken_bytes", b.Bytes))
	}
	if r.Mapping != nil {
		fs = append(fs, zap.Int("uidl_unmapped", mp.Unmapped), zap.Int("uidl_new", mp.New), zap.Int("uidl_unmatched", mp.Unmatched))
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
	if p := r.Poison; p != nil {
		fs = append(fs, zap.Int("poison_msg", p.Num), zap.String("poison_uidl", p.UIDL))
	}
	if r.Limit != "" {
		fs = append(fs, zap.String("limit", r.Limit))
	}
	if r.Pooled {
		fs = append(fs, zap.Bool("pooled", true))
	}
	return fs
}
