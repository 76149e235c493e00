package throttle

import (
	"context"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// Throttle is the proxy's login gate and Ticket its admission: they
// implement session.Gate and session.Admission.
var (
	_ session.Gate      = (*Throttle)(nil)
	_ session.Admission = (*Ticket)(nil)
	_ session.Refuser   = (*Ticket)(nil)
)

// Admit is the gate's hook: it admits the session's user on its backend
// from its client address (see AdmitUser). The Admission is never nil: on
// a refusal it still carries the Decision for the session line, and the
// caller releases it.
func (t *Throttle) Admit(ctx context.Context, s *session.Info) (session.Admission, error) {
	return t.AdmitUser(ctx, s.User, s.Backend, s.Client)
}

// Authenticated reports the outcome of the backend login: on success
// (err == nil) msgs and size are the maildrop from STAT and it calls
// Opened; otherwise it calls Failed.
func (tk *Ticket) Authenticated(err error, msgs int, size int64) {
	if err != nil {
		tk.Failed(err)
		return
	}
	tk.Opened(msgs, size)
}

// Mailbox returns m shaped to the session's bandwidth when it is
// penalised, and in any case wrapped so that what UPDATE leaves in the
// maildrop is remembered for the user's next poll. With throttling off it
// returns m.
func (tk *Ticket) Mailbox(m pop3.Mailbox) pop3.Mailbox {
	if !tk.t.Enabled() {
		return m
	}
	m = &updateRecorder{Mailbox: m, tk: tk}
	if bps := tk.Bandwidth(); bps > 0 {
		tk.shaped = newShaped(m, bps, tk.t.now, tk.t.sleep, tk.Caps())
		m = tk.shaped
	}
	return m
}

// Report puts the Decision on the session line (penalty, delay_ms and
// throttle_reason). With throttling off only a wait for a session slot
// is worth reporting.
func (tk *Ticket) Report(r *session.Record) {
	if !tk.t.Enabled() && tk.d.Reason == "" {
		return
	}
	th := &session.Throttling{Penalty: tk.d.Level, Delay: tk.d.Delay, Reason: tk.d.Reason,
		AuthFailDelay: tk.d.AuthFailDelay, QueueWait: tk.d.QueueWait}
	if tk.shaped != nil {
		th.Shaping = tk.shaped.slept
	}
	r.Throttling = th
}

// updateRecorder passes UPDATE's result to the ticket.
type updateRecorder struct {
	pop3.Mailbox
	tk *Ticket
}

func (u *updateRecorder) Update(ctx context.Context) (pop3.UpdateResult, error) {
	res, err := u.Mailbox.Update(ctx)
	if err == nil {
		u.tk.Updated(res)
	}
	return res, err
}

// Caps passes on the wrapped Mailbox's capabilities.
func (u *updateRecorder) Caps() []string { return pop3.CapsOf(u.Mailbox) }
