package metrics

import (
	"context"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
)

// WrapOpener times each Open of backend and each command on the Mailboxes it
// returns, and counts logins and backend errors. The wrapper keeps the
// optional interfaces the proxy looks for: pop3.APOPer on the Opener,
// pop3.Capabler and the session line's SessionFields on the Mailbox.
func (m *Metrics) WrapOpener(backend string, op pop3.Opener) pop3.Opener {
	return &timedOpener{m: m, backend: backend, op: op}
}

type timedOpener struct {
	m       *Metrics
	backend string
	op      pop3.Opener
}

var (
	_ pop3.Opener = (*timedOpener)(nil)
	_ pop3.APOPer = (*timedOpener)(nil)
)

func (o *timedOpener) Open(ctx context.Context, c pop3.Credentials) (pop3.Mailbox, error) {
	start := time.Now()
	mb, err := o.op.Open(ctx, c)
	o.m.openSeconds.WithLabelValues(o.backend).Observe(time.Since(start).Seconds())
	o.m.logins.WithLabelValues(o.backend, loginOutcome(err)).Inc()
	o.m.countError(o.backend, "open", err)
	if err != nil {
		return nil, err
	}
	return &timedMailbox{m: o.m, backend: o.backend, mb: mb}, nil
}

// SupportsAPOP forwards to the wrapped Opener.
func (o *timedOpener) SupportsAPOP() bool {
	ap, ok := o.op.(pop3.APOPer)
	return ok && ap.SupportsAPOP()
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
func (t *timedMailbox) Caps() []string {
	if c, ok := t.mb.(pop3.Capabler); ok {
		return c.Caps()
	}
	return nil
}

// SessionFields forwards to the wrapped Mailbox.
func (t *timedMailbox) SessionFields() []zap.Field {
	if fr, ok := t.mb.(interface{ SessionFields() []zap.Field }); ok {
		return fr.SessionFields()
	}
	return nil
}
