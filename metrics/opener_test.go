package metrics

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/popgate/popgate/health"
	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

func TestWrapOpenerCountsLoginsLatencyAndErrors(t *testing.T) {
	m := New()
	inner := pop3test.NewMailbox("Subject: a\r\n\r\nbody\r\n")
	inner.Errors = map[string]error{"Dele": pop3.ErrBackendTemporary, "Rset": pop3.ErrNoSuchMessage}
	op := m.WrapOpener("legacy", &pop3test.Opener{
		Passwords:  map[string]string{"alice": "pw"},
		NewMailbox: func(string) pop3.Mailbox { return inner },
		APOP:       true,
	})
	ctx := context.Background()
	if _, err := op.Open(ctx, pop3.Credentials{User: "alice", Password: "wrong"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	mb, err := op.Open(ctx, pop3.Credentials{User: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mb.Stat(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := mb.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); len(b) == 0 {
		t.Error("empty body through the wrapper")
	}
	r.Close()
	_ = mb.Dele(ctx, 1) // a backend failure
	_ = mb.Rset(ctx)    // a client-level error: not the backend's fault

	checkSamples(t, m, []want{
		{"popgate_logins_total", map[string]string{"backend": "legacy", "outcome": "ok"}, 1},
		{"popgate_logins_total", map[string]string{"backend": "legacy", "outcome": "auth_failed"}, 1},
		{"popgate_backend_open_seconds", map[string]string{"backend": "legacy"}, 2},
		{"popgate_backend_response_seconds", map[string]string{"backend": "legacy", "command": "stat"}, 1},
		{"popgate_backend_response_seconds", map[string]string{"backend": "legacy", "command": "retr"}, 1},
		{"popgate_backend_errors_total", map[string]string{"backend": "legacy", "op": "dele", "kind": "temporary"}, 1},
		{"popgate_backend_errors_total", map[string]string{"backend": "legacy", "op": "rset"}, -1},
		{"popgate_backend_errors_total", map[string]string{"backend": "legacy", "op": "open"}, -1},
	})
	if ap, ok := op.(pop3.APOPer); !ok || !ap.SupportsAPOP() {
		t.Error("APOP support is hidden by the wrapper")
	}
}

func TestWrapOpenerClassifiesUnavailable(t *testing.T) {
	m := New()
	cause := &pop3.Error{Code: pop3.CodeSysTemp, Text: "x", Err: health.ErrUnavailable}
	op := m.WrapOpener("legacy", pop3.OpenerFunc(func(context.Context, pop3.Credentials) (pop3.Mailbox, error) {
		return nil, cause
	}))
	if _, err := op.Open(context.Background(), pop3.Credentials{User: "u"}); !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("error changed: %v", err)
	}
	checkSamples(t, m, []want{
		{"popgate_logins_total", map[string]string{"outcome": "unavailable"}, 1},
		{"popgate_backend_errors_total", map[string]string{"op": "open", "kind": "unavailable"}, 1},
	})
}

// decorated is a Mailbox with the optional interfaces the proxy asks for.
type decorated struct {
	*pop3test.Mailbox
}

func (decorated) Caps() []string           { return []string{"EXPIRE NEVER"} }
func (decorated) Report(r *session.Record) { r.Mapping = &session.Mapping{Mapped: 2} }

func TestWrappedMailboxKeepsOptionalInterfaces(t *testing.T) {
	m := New()
	op := m.WrapOpener("n", pop3.OpenerFunc(func(context.Context, pop3.Credentials) (pop3.Mailbox, error) {
		return decorated{pop3test.NewMailbox()}, nil
	}))
	mb, err := op.Open(context.Background(), pop3.Credentials{User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := mb.(pop3.Capabler)
	if !ok || len(c.Caps()) != 1 || c.Caps()[0] != "EXPIRE NEVER" {
		t.Errorf("Caps lost: %v", ok)
	}
	var rec session.Record
	session.Report(mb, &rec)
	if rec.Mapping == nil || rec.Mapping.Mapped != 2 {
		t.Errorf("Report lost: %+v", rec.Mapping)
	}
	plain, err := m.WrapOpener("n", pop3.OpenerFunc(func(context.Context, pop3.Credentials) (pop3.Mailbox, error) {
		return pop3test.NewMailbox(), nil
	})).Open(context.Background(), pop3.Credentials{User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	rec = session.Record{}
	session.Report(plain, &rec)
	if plain.(pop3.Capabler).Caps() != nil || rec.Mapping != nil {
		t.Error("a plain Mailbox gained capabilities or session line fields")
	}
}
