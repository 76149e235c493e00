package proxy

import (
	"net/netip"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/session"
)

const greeting = "+OK pop.test POP3 ready"

// lastLine is the session line of the session that ended last.
func lastLine(t *testing.T, env *testEnv, n int) map[string]any {
	t.Helper()
	lines := env.sessionLines(t, n)
	return lines[len(lines)-1].ContextMap()
}

func wantRefusedLine(t *testing.T, line map[string]any, limit string) {
	t.Helper()
	if line["result"] != session.ResultRefused || line["limit"] != limit {
		t.Errorf("session line result=%v limit=%v, want %s %s", line["result"], line["limit"], session.ResultRefused, limit)
	}
}

func TestPreLoginCapPerAddress(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { o.MaxPreLoginPerAddress = 3 })
	var held []*client
	for range 3 {
		c := newClient(t, env.dial(t))
		c.expect(greeting)
		held = append(held, c)
	}
	over := newClient(t, env.dial(t))
	over.expect("-ERR [SYS/TEMP] too many connections from your address*")
	wantRefusedLine(t, lastLine(t, env, 1), LimitPreLoginAddress)
	if n := env.srv.PreLogin(); n != 3 {
		t.Errorf("PreLogin() = %d, want 3", n)
	}
	// A login frees its slot.
	held[0].auth("+OK 3 messages*")
	c := newClient(t, env.dial(t))
	c.expect(greeting)
	c.auth("+OK 3 messages*")
}

func TestPreLoginCapTotal(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.MaxPreLogin = 2
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	for _, src := range []string{"203.0.113.1:1", "203.0.113.2:2"} {
		conn := env.dial(t)
		proxyHeader(t, conn, src)
		newClient(t, conn).expect(greeting)
	}
	conn := env.dial(t)
	proxyHeader(t, conn, "203.0.113.3:3")
	newClient(t, conn).expect("-ERR [SYS/TEMP] too many connections, try again later")
	wantRefusedLine(t, lastLine(t, env, 1), LimitPreLoginTotal)
}

// Behind a balancer, the per-address cap applies to the address in the
// PROXY header, not to the balancer's.
func TestPreLoginCapPerAddressBehindProxy(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.MaxPreLoginPerAddress = 2
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	dial := func(src string) *client {
		conn := env.dial(t)
		proxyHeader(t, conn, src)
		c := newClient(t, conn)
		c.expect(greeting)
		c.send("CAPA")
		return c
	}
	for range 2 {
		dial("203.0.113.7:1").expect("+OK*")
	}
	dial("203.0.113.7:2").expect("-ERR [SYS/TEMP] too many connections from your address*")
	wantRefusedLine(t, lastLine(t, env, 1), LimitPreLoginAddress)
	dial("203.0.113.8:1").expect("+OK*")
}

func TestLoginTimeoutIsSeparateFromIdleTimeout(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.LoginTimeout = 400 * time.Millisecond
		o.IdleTimeout = time.Minute
	})
	// Commands before login do not extend it.
	c := newClient(t, env.dial(t))
	c.expect(greeting)
	start := time.Now()
	for range 3 {
		time.Sleep(100 * time.Millisecond)
		c.send("CAPA")
		c.expect("+OK*")
		c.block()
	}
	c.expect("-ERR [SYS/TEMP] login timeout")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("login timeout after %v", d)
	}
	line := lastLine(t, env, 1)
	if line["result"] != session.ResultTimeout {
		t.Errorf("result %v, want %s", line["result"], session.ResultTimeout)
	}
	// After login it no longer applies.
	l := newClient(t, env.dial(t))
	l.login()
	time.Sleep(600 * time.Millisecond)
	l.send("STAT")
	l.expect("+OK 3 *")
}

func TestSessionsPerUserAndAddress(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { o.MaxSessionsPerUserAddress = 2 })
	for range 2 {
		newClient(t, env.dial(t)).login()
	}
	c := newClient(t, env.dial(t))
	c.expect(greeting)
	c.auth("-ERR [SYS/TEMP] too many sessions for this user from your address")
	wantRefusedLine(t, lastLine(t, env, 1), LimitUserAddress)
	// Another user from the same address is not affected.
	a := newClient(t, env.dial(t))
	a.expect(greeting)
	a.send("USER alice")
	a.expect("+OK*")
	a.send("PASS wonderland")
	a.expect("+OK 3 messages*")
}
