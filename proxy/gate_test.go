package proxy

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// testGate refuses alice with LOGIN-DELAY and admits everyone else.
type testGate struct {
	admitted, released atomic.Int32
	lastAuth           atomic.Value // error or nil, as a string
	stat               atomic.Int64
}

func (g *testGate) Caps() []string { return []string{"LOGIN-DELAY 900 USER"} }

func (g *testGate) Admit(ctx context.Context, s *session.Info) (session.Admission, error) {
	g.admitted.Add(1)
	adm := &testAdmission{g: g}
	if s.User == "alice" {
		return adm, &pop3.Error{Code: pop3.CodeLoginDelay, Text: "wait 15 minutes between logins"}
	}
	return adm, nil
}

type testAdmission struct{ g *testGate }

func (a *testAdmission) Authenticated(err error, msgs int, size int64) {
	a.g.lastAuth.Store(pop3.CodeOf(err))
	a.g.stat.Store(int64(msgs)*1000 + size)
}
func (a *testAdmission) Mailbox(m pop3.Mailbox) pop3.Mailbox { return m }
func (a *testAdmission) Caps() []string                      { return []string{"LOGIN-DELAY 300"} }
func (a *testAdmission) Release()                            { a.g.released.Add(1) }
func (a *testAdmission) Report(r *session.Record) {
	r.Throttling = &session.Throttling{Penalty: 7, Delay: 1500 * time.Millisecond, Reason: "hog"}
}

// mapped is a decorator that reports uidl_mapped and adds a capability.
type mapped struct{ pop3.Mailbox }

func (mapped) Report(r *session.Record) { r.Mapping = &session.Mapping{Mapped: 2} }
func (mapped) Caps() []string           { return []string{"EXPIRE NEVER"} }

func TestGateAndDecorators(t *testing.T) {
	g := &testGate{}
	var decorated atomic.Int32
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.Gate = g
		o.Decorators = []session.Decorator{session.DecoratorFunc(func(ctx context.Context, s *session.Info, m pop3.Mailbox) pop3.Mailbox {
			if s.User == "bob" && s.Backend == "fake" {
				decorated.Add(1)
				return mapped{m}
			}
			return m
		})}
	})
	c := newClient(t, env.dial(t))
	c.expect("+OK *")
	c.send("CAPA")
	c.expect("+OK *")
	if caps := c.block(); !strings.Contains(caps, "LOGIN-DELAY 900 USER\r\n") {
		t.Errorf("pre-login CAPA lacks the gate's line:\n%s", caps)
	}
	c.send("USER alice")
	c.expect("+OK")
	c.send("PASS wonderland")
	c.expect("-ERR [LOGIN-DELAY] wait 15 minutes between logins")
	c.auth("+OK 3 messages*")
	c.send("CAPA")
	c.expect("+OK *")
	caps := c.block()
	for _, want := range []string{"LOGIN-DELAY 300\r\n", "EXPIRE NEVER\r\n"} {
		if !strings.Contains(caps, want) {
			t.Errorf("post-login CAPA lacks %q:\n%s", want, caps)
		}
	}
	if strings.Contains(caps, "USER\r\n") || strings.Contains(caps, "SASL") {
		t.Errorf("post-login CAPA offers login mechanisms:\n%s", caps)
	}
	c.send("QUIT")
	c.expect("+OK bye*")

	e := env.sessionLines(t, 1)[0]
	counts := map[string]int{}
	for _, f := range e.Context {
		counts[f.Key]++
	}
	for k, n := range counts {
		if n != 1 {
			t.Errorf("key %q appears %d times in the session line", k, n)
		}
	}
	m := e.ContextMap()
	if m["penalty"] != int64(7) || m["delay_ms"] != int64(1500) || m["throttle_reason"] != "hog" || m["uidl_mapped"] != int64(2) {
		t.Errorf("reported fields missing: %v", m)
	}
	if g.admitted.Load() != 2 || g.released.Load() != 2 {
		t.Errorf("admitted %d released %d, want 2 and 2", g.admitted.Load(), g.released.Load())
	}
	if g.stat.Load() != 3*1000+101 || g.lastAuth.Load() != pop3.CodeNone {
		t.Errorf("gate saw stat %d auth %v", g.stat.Load(), g.lastAuth.Load())
	}
	if decorated.Load() != 1 {
		t.Errorf("decorator ran %d times", decorated.Load())
	}
}

func TestThrottledResult(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { o.Gate = &testGate{} })
	c := newClient(t, env.dial(t))
	c.expect("+OK *")
	c.send("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")
	c.expect("-ERR [LOGIN-DELAY] *")
	c.send("QUIT")
	c.expect("+OK bye")
	m := env.sessionLines(t, 1)[0].ContextMap()
	if m["result"] != session.ResultThrottled || !strings.Contains(m["error"].(string), "user alice") {
		t.Errorf("result %v error %v", m["result"], m["error"])
	}
	if n := len(env.opener.Credentials()); n != 0 {
		t.Errorf("backend opened %d times for a refused login", n)
	}
}
