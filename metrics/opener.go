package metrics

import (
	"context"
	"io"
	"time"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// WrapOpener times each Open of backend and each command on the Mailboxes it
// returns, and counts logins and backend errors. The wrapper keeps the
// optional capabilities the proxy looks for: pop3.APOPer on the Opener,
// pop3.Capabler and session.Reporter on the Mailbox.
func (m *Metrics) WrapOpener(backend string, op pop3.Opener) pop3.Opener {
	return pop3.WrapOpener(op, func(ctx context.Context, c pop3.Credentials) (pop3.Mailbox, error) {
		start := time.Now()
		mb, err := op.Open(ctx, c)
		m.openSeconds.WithLabelValues(backend).Observe(time.Since(start).Seconds())
		m.logins.WithLabelValues(backend, loginOutcome(err)).Inc()
		m.countError(backend, "open", err)
		if err != nil {
			return nil, err
		}
		return &timedMailbox{m: m, backend: backend, mb: mb}, nil
	})
}

// countError counts err against backend if it is the backend's failure.
func (m *Metrics) countError(backend, op string, err error) {
	if kind := errorKind(err); kind != "" {
		m.backendErrors.WithLabelValues(backend, op, kind).Inc()
	}
}

// timedMailbox observes each command's response time.
type timedMailbox struct {
	m       *Metrics
	backend string
	mb      pop3.Mailbox
}

var _ pop3.Mailbox = (*timedMailbox)(nil)

// observe records one command that started at start.
func (t *timedMailbox) observe(cmd string, start time.Time, err error) {
	t.m.cmdSeconds.WithLabelValues(t.backend, cmd).Observe(time.Since(start).Seconds())
	t.m.countError(t.backend, cmd, err)
}

func (t *timedMailbox) Stat(ctx context.Context) (int, int64, error) {
	start := time.Now()
	n, size, err := t.mb.Stat(ctx)
	t.observe("stat", start, err)
	return n, size, err
}

func (t *timedMailbox) List(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	start := time.Now()
	l, err := t.mb.List(ctx, n)
	t.observe("list", start, err)
	return l, err
}

func (t *timedMailbox) Uidl(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	start := time.Now()
	l, err := t.mb.Uidl(ctx, n)
	t.observe("uidl", start, err)
	return l, err
}

// Retr is timed until the body starts; the body itself is returned as is,
// so readers further out (bandwidth shaping) still see its own methods.
func (t *timedMailbox) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	start := time.Now()
	r, err := t.mb.Retr(ctx, n)
	t.observe("retr", start, err)
	return r, err
}

func (t *timedMailbox) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	start := time.Now()
	r, err := t.mb.Top(ctx, n, lines)
	t.observe("top", start, err)
	return r, err
}

func (t *timedMailbox) Dele(ctx context.Context, n int) error {
	start := time.Now()
	err := t.mb.Dele(ctx, n)
	t.observe("dele", start, err)
	return err
}

func (t *timedMailbox) Rset(ctx context.Context) error {
	start := time.Now()
	err := t.mb.Rset(ctx)
	t.observe("rset", start, err)
	return err
}

func (t *timedMailbox) Noop(ctx context.Context) error {
	start := time.Now()
	err := t.mb.Noop(ctx)
	t.observe("noop", start, err)
	return err
}

func (t *timedMailbox) Update(ctx context.Context) (pop3.UpdateResult, error) {
	start := time.Now()
	res, err := t.mb.Update(ctx)
	t.observe("update", start, err)
	return res, err
}

func (t *timedMailbox) Close() error { return t.mb.Close() }

// Caps forwards to the wrapped Mailbox.
func (t *timedMailbox) Caps() []string { return pop3.CapsOf(t.mb) }

// Report forwards to the wrapped Mailbox.
func (t *timedMailbox) Report(r *session.Record) { session.Report(t.mb, r) }

// Status forwards to the wrapped Mailbox.
func (t *timedMailbox) Status(cmd string) (pop3.Response, bool) { return pop3.StatusOf(t.mb, cmd) }
