package upstream

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// timeNever clears a deadline, for long benchmarks.
var timeNever time.Time

// startFake serves handle on 127.0.0.1 until the test ends and returns
// the address.
func startFake(tb testing.TB, handle func(s *pop3test.Conn)) string {
	tb.Helper()
	return pop3test.Start(tb, handle).Addr
}

// login plays a plain RFC 2449 server through USER/PASS and the first STAT,
// with two messages of 300 octets in all.
func login(s *pop3test.Conn) bool {
	s.Send("+OK POP3 ready <1.2@fake>")
	if !s.Expect("CAPA") {
		return false
	}
	s.Send("+OK", "TOP", "USER", "UIDL", "RESP-CODES", ".")
	return userPass(s)
}

// userPass plays USER/PASS and the first STAT, one command at a time.
func userPass(s *pop3test.Conn) bool {
	if !s.Expect("USER alice") {
		return false
	}
	s.Send("+OK")
	if !s.Expect("PASS se cret") {
		return false
	}
	s.Send("+OK logged in")
	if !s.Expect("STAT") {
		return false
	}
	s.Send("+OK 2 300")
	return true
}

// pipelinedLogin reads USER, PASS and STAT before answering any of them, which
// a client waiting for each reply never gets past, then sends replies.
func pipelinedLogin(s *pop3test.Conn, replies ...string) bool {
	for _, cmd := range []string{"USER alice", "PASS se cret", "STAT"} {
		if !s.Expect(cmd) {
			return false
		}
	}
	s.Send(replies...)
	return true
}

// startScripts is startFake for a series of logins: the n-th connection
// plays the n-th script, and a connection too many fails the test.
func startScripts(t *testing.T, scripts ...func(s *pop3test.Conn)) string {
	t.Helper()
	var n atomic.Int32
	return startFake(t, func(s *pop3test.Conn) {
		i := int(n.Add(1)) - 1
		if i >= len(scripts) {
			t.Errorf("fake server: connection %d, want %d", i+1, len(scripts))
			return
		}
		scripts[i](s)
	})
}

// writeLog records each Write on the connections a Backend dials, so a
// test sees what a login costs in writes.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

// dial is an Options.Dial that logs the connection's writes.
func (l *writeLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &loggedConn{Conn: nc, l: l}, nil
}

// take returns the writes logged so far and empties the log.
func (l *writeLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.writes
	l.writes = nil
	return w
}

type loggedConn struct {
	net.Conn
	l *writeLog
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, string(p))
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// testCreds are a client's credentials, with a password holding a space.
func testCreds() pop3.Credentials {
	return pop3.Credentials{
		Mechanism: pop3.MechUser, User: "alice", Password: "se cret",
		Client: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000},
		Local:  &net.TCPAddr{IP: net.IPv4(198, 51, 100, 1), Port: 110},
	}
}

// testOptions has short timeouts so that fault tests end quickly.
func testOptions(addr string) Options {
	return Options{Name: "legacy", Addr: addr, DialTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second}
}

// openFake starts a fake server that logs in and then runs rest, and opens
// a mailbox on it.
func openFake(t *testing.T, rest func(s *pop3test.Conn)) pop3.Mailbox {
	t.Helper()
	addr := startFake(t, func(s *pop3test.Conn) {
		if login(s) {
			rest(s)
		}
	})
	m, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// wantCode checks that err is a *pop3.Error with the given code.
func wantCode(t *testing.T, err error, code pop3.Code) *pop3.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want a *pop3.Error with code %q", code)
	}
	pe, ok := err.(*pop3.Error)
	if !ok {
		t.Fatalf("err = %T %v, want *pop3.Error", err, err)
	}
	if pe.Code != code {
		t.Fatalf("code = %q (%v), want %q", pe.Code, err, code)
	}
	return pe
}
