package proxy

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// Messages of the test user "bob" (password "secret").
var testMessages = []string{
	"Subject: one\r\n\r\nhello\r\n",
	"Subject: two\r\n\r\n.dot line\r\nsecond\r\nthird\r\n",
	"Subject: three\r\n\r\nno final newline",
}

// testEnv is a running Server with an observed logger.
type testEnv struct {
	srv    *Server
	addr   string
	logs   *observer.ObservedLogs
	opener *pop3test.Opener
	boxes  chan *pop3test.Mailbox // every Mailbox handed out
}

// startServer runs a Server on 127.0.0.1 over a fake backend; tweak may
// change the options and the fake Mailbox before it starts.
func startServer(t testing.TB, tweak func(*Options, *pop3test.Mailbox)) *testEnv {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	env := &testEnv{logs: logs, boxes: make(chan *pop3test.Mailbox, 100)}
	proto := pop3test.NewMailbox(testMessages...)
	env.opener = &pop3test.Opener{
		Passwords: map[string]string{"bob": "secret", "alice": "wonderland"},
		NewMailbox: func(user string) pop3.Mailbox {
			m := &pop3test.Mailbox{}
			m.Messages, m.UIDs, m.Errors, m.Panics = proto.Messages, proto.UIDs, proto.Errors, proto.Panics
			m.BodyErr, m.BodyErrAfter, m.ReadDelay = proto.BodyErr, proto.BodyErrAfter, proto.ReadDelay
			env.boxes <- m
			return m
		},
	}
	o := Options{
		Backends:       map[string]pop3.Opener{"fake": env.opener},
		DefaultBackend: "fake",
		AuthFailDelay:  -1,
		Hostname:       "pop.test",
		Logger:         zap.New(core),
	}
	if tweak != nil {
		tweak(&o, proto)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.srv, env.addr = srv, l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return env
}

func (e *testEnv) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sessionLines waits for n session lines and returns them.
func (e *testEnv) sessionLines(t testing.TB, n int) []observer.LoggedEntry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := e.logs.FilterMessage("session").All()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d session lines, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// client is a minimal line-oriented POP3 client with deadlines.
type client struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func newClient(t testing.TB, c net.Conn) *client {
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) send(line string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

func (c *client) line() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimRight(s, "\r\n")
}

// expect reads one line and checks it against a pop3test.Match pattern.
func (c *client) expect(pattern string) string {
	c.t.Helper()
	got := c.line()
	if !pop3test.Match(pattern, got) {
		c.t.Fatalf("got %q, want %q", got, pattern)
	}
	return got
}

// block reads a multi-line block up to the terminating dot, unstuffed.
func (c *client) block() string {
	c.t.Helper()
	var b strings.Builder
	for {
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		s, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read block: %v", err)
		}
		if s == ".\r\n" {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(s, "."))
	}
}

func (c *client) login() {
	c.t.Helper()
	c.expect("+OK pop.test POP3 ready*")
	c.auth("+OK 3 messages*")
}

// auth sends USER bob and PASS secret after the greeting has been read, and
// returns the reply to PASS, which must match pattern.
func (c *client) auth(pattern string) string {
	c.t.Helper()
	c.send("USER bob")
	c.expect("+OK*")
	c.send("PASS secret")
	return c.expect(pattern)
}

// fakeOpener returns the test backend, for tweaks made before the server starts.
func fakeOpener(o *Options) *pop3test.Opener { return o.Backends["fake"].(*pop3test.Opener) }

func fakeOpenerOf(e *testEnv) *pop3test.Opener { return e.opener }
