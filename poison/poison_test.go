package poison

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/memstore"
)

const crashing = "From: a@example.org\r\nSubject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\nMessage-ID: <bad@example.org>\r\n\r\nbody\r\n"

func maildrop() *pop3test.Mailbox {
	m := pop3test.NewMailbox("Subject: one\r\n\r\n1\r\n", crashing, "Subject: three\r\n\r\n3\r\n")
	m.UIDs = []string{"u1", "u2", "u3"}
	return m
}

// runSession runs one session of nina through d: the client lists UIDLs,
// reads the head of message n and breaks off (broken), or reads it whole
// and quits.
func runSession(t *testing.T, d *Decorator, n int, broken bool) (*session.Record, pop3.Mailbox) {
	t.Helper()
	ctx := context.Background()
	info := &session.Info{User: "nina", Backend: "native", Client: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4000}}
	m := d.Decorate(ctx, info, maildrop())
	if _, err := m.Uidl(ctx, 0); err != nil {
		t.Fatal(err)
	}
	rc, err := m.Retr(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	// The proxy reads from the backend ahead of the client, which breaks
	// off later.
	body, _ := io.ReadAll(rc)
	rc.Close()
	r := &session.Record{Result: session.ResultOK}
	if broken {
		r.Result, r.Broken = session.ResultClientGone, &session.BrokenTransfer{Num: n, Bytes: int64(len(body))}
	}
	session.Report(m, r)
	return r, m
}

func newDecorator(action string) (*Decorator, *memstore.Store, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	st := memstore.New()
	return New(Options{Store: st, Limit: 3, Action: action, Hostname: "pop.test", Logger: zap.New(core)}), st, logs
}

func TestFlagsAfterBreaksInARow(t *testing.T) {
	d, st, logs := newDecorator(ActionNone)
	runSession(t, d, 2, true)
	runSession(t, d, 2, true)
	runSession(t, d, 3, false) // a good session starts the count again
	for i := 1; i <= 2; i++ {
		if r, _ := runSession(t, d, 2, true); r.Poison != nil {
			t.Fatalf("flagged after %d breaks in a row", i)
		}
	}
	if n := logs.Len(); n != 0 {
		t.Fatalf("%d lines logged before the limit", n)
	}
	r, _ := runSession(t, d, 2, true)
	if r.Poison == nil || r.Poison.Num != 2 || r.Poison.UIDL != "u2" {
		t.Fatalf("third break in a row: Poison = %+v, want message 2, u2", r.Poison)
	}
	warn := logs.All()
	if len(warn) != 1 || warn[0].Level != zapcore.WarnLevel {
		t.Fatalf("logged %v, want one warning", warn)
	}
	f := warn[0].ContextMap()
	want := map[string]any{"user": "nina", "backend": "native", "msg_num": int64(2), "uidl": "u2",
		"size": int64(len(crashing)), "message_id": "<bad@example.org>", "subject": "Rechnung für März",
		"client": "192.0.2.1:4000", "breaks": int64(3), "action": "none"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("warning %s = %#v, want %#v", k, f[k], v)
		}
	}
	if r, _ := runSession(t, d, 2, true); r.Poison != nil {
		t.Error("flagged a second time")
	}
	if logs.Len() != 1 {
		t.Error("warned a second time")
	}
	b, _ := st.Breaks(context.Background(), "nina")
	if !b.IsPoison("u2") || b.Streak.Breaks != 4 {
		t.Errorf("stored %+v", b)
	}
	// With no action, nothing is held.
	_, m := runSession(t, d, 3, false)
	if n, _, _ := m.Stat(context.Background()); n != 3 {
		t.Errorf("STAT shows %d messages with action none, want 3", n)
	}
}

func TestOnlyClientBreaksCount(t *testing.T) {
	d, st, _ := newDecorator(ActionNone)
	for range 5 {
		_, m := runSession(t, d, 2, false)
		r := &session.Record{Result: session.ResultBackendError, Broken: &session.BrokenTransfer{Num: 2}}
		session.Report(m, r)
	}
	if b, _ := st.Breaks(context.Background(), "nina"); !b.Empty() {
		t.Errorf("backend failures counted as client breaks: %+v", b)
	}
}

// flagged breaks message 2 until it is flagged under action, then opens
// a new session; it returns the store, the backend's Mailbox and the
// session's.
func flagged(t *testing.T, action string) (*Decorator, *memstore.Store, *pop3test.Mailbox, pop3.Mailbox) {
	t.Helper()
	d, st, _ := newDecorator(action)
	for range 3 {
		runSession(t, d, 2, true)
	}
	inner := maildrop()
	return d, st, inner, d.Decorate(context.Background(), &session.Info{User: "nina"}, inner)
}

func TestSkipHidesTheMessage(t *testing.T) {
	d, st, inner, m := flagged(t, ActionSkip)
	ctx := context.Background()
	n, size, err := m.Stat(ctx)
	if err != nil || n != 2 || size != int64(len("Subject: one\r\n\r\n1\r\n")+len("Subject: three\r\n\r\n3\r\n")) {
		t.Errorf("STAT = %d %d, %v; want the two other messages", n, size, err)
	}
	ids, _ := m.Uidl(ctx, 0)
	list, _ := m.List(ctx, 0)
	if len(ids) != 2 || ids[0].UID != "u1" || ids[1].Num != 3 || len(list) != 2 || list[1].Num != 3 {
		t.Errorf("UIDL %v LIST %v, want messages 1 and 3", ids, list)
	}
	if _, err := m.Retr(ctx, 2); err != pop3.ErrNoSuchMessage {
		t.Errorf("RETR 2 = %v, want no such message", err)
	}
	if _, err := m.Uidl(ctx, 2); err != pop3.ErrNoSuchMessage {
		t.Errorf("UIDL 2 = %v, want no such message", err)
	}
	if err := m.Dele(ctx, 2); err != pop3.ErrNoSuchMessage {
		t.Errorf("DELE 2 = %v, want no such message", err)
	}
	if strings.Contains(strings.Join(inner.Calls(), ","), "Dele") {
		t.Error("DELE of a held message reached the backend")
	}

	if ok, err := Release(ctx, st, "nina", "u2"); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	m = d.Decorate(ctx, &session.Info{User: "nina"}, maildrop())
	if n, _, _ := m.Stat(ctx); n != 3 {
		t.Errorf("after the release STAT shows %d messages, want 3", n)
	}
	if ok, _ := Release(ctx, st, "nina", "u2"); ok {
		t.Error("released twice")
	}
}

func TestReplaceServesANotice(t *testing.T) {
	_, _, inner, m := flagged(t, ActionReplace)
	ctx := context.Background()
	rc, err := m.Retr(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	if !strings.Contains(string(body), "held") || !strings.Contains(string(body), "Rechnung für März") ||
		!strings.Contains(string(body), "<bad@example.org>") || strings.Contains(string(body), "\n\n") {
		t.Errorf("notice:\n%s", body)
	}
	list, _ := m.List(ctx, 2)
	ids, _ := m.Uidl(ctx, 0)
	if len(list) != 1 || list[0].Size != int64(len(body)) || len(ids) != 3 || ids[1].UID != "held-u2" {
		t.Errorf("LIST 2 %v, UIDL %v; want the notice's size and UIDL", list, ids)
	}
	if sz, ok := rc.(pop3.Sizer); !ok || sz.Size() != int64(len(body)) {
		t.Error("the notice does not announce its size")
	}
	if n, size, _ := m.Stat(ctx); n != 3 || size != int64(len(body))+int64(len(maildrop().Messages[0])+len(maildrop().Messages[2])) {
		t.Errorf("STAT = %d %d", n, size)
	}
	if err := m.Dele(ctx, 2); err != nil {
		t.Errorf("DELE of the notice: %v", err)
	}
	if strings.Contains(strings.Join(inner.Calls(), ","), "Dele") {
		t.Error("DELE of the notice deleted the held message")
	}
}

func TestHeldUIDLIsValid(t *testing.T) {
	long := strings.Repeat("x", 70)
	for _, u := range []string{"u2", long} {
		if h := heldUIDL(u); len(h) > 70 || h == u || !strings.HasPrefix(h, "held-") {
			t.Errorf("heldUIDL(%q) = %q", u, h)
		}
	}
}

// A session that was open while an operator released its message does not
// bring the flag back when it ends.
func TestReleaseDuringASession(t *testing.T) {
	_, st, _, m := flagged(t, ActionSkip)
	ctx := context.Background()
	if ok, err := Release(ctx, st, "nina", "u2"); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	b, _ := st.Breaks(ctx, "nina")
	b.Streak = store.BrokenMessage{UIDL: "u3", Breaks: 1}
	st.SetBreaks(ctx, "nina", b)
	session.Report(m, &session.Record{Result: session.ResultOK})
	if b, _ := st.Breaks(ctx, "nina"); !b.Empty() {
		t.Errorf("after the session ended: %+v, want nothing flagged and no streak", b)
	}
}
