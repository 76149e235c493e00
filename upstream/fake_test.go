package upstream

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
)

// fakeDeadline bounds every fake-server conversation, so no test can hang.
const fakeDeadline = 10 * time.Second

// timeNever clears a deadline, for long benchmarks.
var timeNever time.Time

// fakeConn is the server side of one scripted conversation.
type fakeConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

// startFake listens on 127.0.0.1 and runs handle for each connection. The
// test's cleanup waits for every handler to return.
func startFake(t testing.TB, handle func(s *fakeConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(fakeDeadline))
				handle(&fakeConn{t: t, nc: nc, r: bufio.NewReader(nc)})
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// send writes lines, each with CRLF, in one write.
func (s *fakeConn) send(lines ...string) {
	s.raw(strings.Join(lines, "\r\n") + "\r\n")
}

func (s *fakeConn) raw(data string) {
	if _, err := s.nc.Write([]byte(data)); err != nil {
		s.t.Errorf("fake server: write: %v", err)
	}
}

// expect reads one command line and checks it.
func (s *fakeConn) expect(want string) bool {
	got, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Errorf("fake server: waiting for %q: %v", want, err)
		return false
	}
	if got != want+"\r\n" {
		s.t.Errorf("fake server got %q, want %q", got, want+"\r\n")
		return false
	}
	return true
}

// expectEOF checks that the client hung up without another command.
func (s *fakeConn) expectEOF() {
	if line, err := s.r.ReadString('\n'); err == nil || line != "" {
		s.t.Errorf("fake server: got %q (%v), want the connection closed", line, err)
	}
}

// login plays a plain RFC 2449 server through USER/PASS and the first STAT,
// with two messages of 300 octets in all.
func (s *fakeConn) login() bool {
	s.send("+OK POP3 ready <1.2@fake>")
	if !s.expect("CAPA") {
		return false
	}
	s.send("+OK", "TOP", "USER", "UIDL", "RESP-CODES", ".")
	return s.userPass()
}

// userPass plays USER/PASS and the first STAT, one command at a time.
func (s *fakeConn) userPass() bool {
	if !s.expect("USER alice") {
		return false
	}
	s.send("+OK")
	if !s.expect("PASS se cret") {
		return false
	}
	s.send("+OK logged in")
	if !s.expect("STAT") {
		return false
	}
	s.send("+OK 2 300")
	return true
}

// pipelined reads USER, PASS and STAT before answering any of them, which
// a client waiting for each reply never gets past, then sends replies.
func (s *fakeConn) pipelined(replies ...string) bool {
	for _, cmd := range []string{"USER alice", "PASS se cret", "STAT"} {
		if !s.expect(cmd) {
			return false
		}
	}
	s.send(replies...)
	return true
}

// startScripts is startFake for a series of logins: the n-th connection
// plays the n-th script, and a connection too many fails the test.
func startScripts(t *testing.T, scripts ...func(s *fakeConn)) string {
	t.Helper()
	var n atomic.Int32
	return startFake(t, func(s *fakeConn) {
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
func openFake(t *testing.T, rest func(s *fakeConn)) pop3.Mailbox {
	t.Helper()
	addr := startFake(t, func(s *fakeConn) {
		if s.login() {
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

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
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
