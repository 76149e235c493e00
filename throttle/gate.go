package throttle

import (
	"context"
	"io"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
)

// The methods below give Ticket the method set of proxy.Admission, which
// throttle may not import. proxy.Gate itself takes a *proxy.SessionInfo,
// so the importer bridges the two (throttleGate in cmd/popgate), passing
// on Admit's Ticket, which is never nil.

// admission is proxy.Admission as of this writing, checked here so that a
// change on this side shows up at once.
type admission interface {
	Authenticated(err error, msgs int, size int64)
	Mailbox(m pop3.Mailbox) pop3.Mailbox
	Caps() []string
	Release()
	SessionFields() []zap.Field
}

var _ admission = (*Ticket)(nil)

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
		m = newShaped(m, bps, tk.t.now, tk.t.sleep, tk.Caps())
	}
	return m
}

// SessionFields returns penalty, delay_ms and throttle_reason for the
// session line.
func (tk *Ticket) SessionFields() []zap.Field { return tk.d.Fields() }

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
func (u *updateRecorder) Caps() []string {
	if c, ok := u.Mailbox.(pop3.Capabler); ok {
		return c.Caps()
	}
	return nil
}

// sizedReader keeps the Size of a wrapped message reader visible, so the
// proxy can still announce a RETR's length.
type sizedReader struct {
	io.ReadCloser
	size interface{ Size() int64 }
}

func (r sizedReader) Size() int64 { return r.size.Size() }
