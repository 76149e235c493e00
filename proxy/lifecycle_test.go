package proxy

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// expectClosed checks that the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := c.r.ReadString('\n')
	if err == nil {
		c.t.Fatalf("got %q, want the connection closed", s)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open after 5s")
	}
}

func TestIdleTimeout(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { o.IdleTimeout = 100 * time.Millisecond })
	c := newClient(t, env.dial(t))
	c.login()
	m := <-env.boxes
	c.expect("-ERR [SYS/TEMP] idle timeout")
	c.expectClosed()
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultTimeout {
		t.Errorf("result %v, want timeout", line["result"])
	}
	if !m.Closed() || m.Updated() {
		t.Errorf("mailbox closed=%v updated=%v, want closed without update", m.Closed(), m.Updated())
	}
}

func TestPanicRecovery(t *testing.T) {
	env := startServer(t, func(o *Options, m *pop3test.Mailbox) { m.Panics = map[string]bool{"Retr": true} })
	c := newClient(t, env.dial(t))
	c.login()
	m := <-env.boxes
	c.send("RETR 1")
	c.expect("-ERR [SYS/TEMP] internal error")
	c.expectClosed()
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultBackendError || !strings.Contains(line["error"].(string), "panic") {
		t.Errorf("result %v error %v, want backend_error with the panic", line["result"], line["error"])
	}
	if !m.Closed() || m.Updated() {
		t.Errorf("mailbox closed=%v updated=%v, want closed without update", m.Closed(), m.Updated())
	}
	if n := env.logs.FilterMessage("session panic").Len(); n != 1 {
		t.Errorf("%d panic logs, want 1", n)
	}
	// The server still serves.
	c2 := newClient(t, env.dial(t))
	c2.login()
}

func TestBodyFailureMidMessage(t *testing.T) {
	env := startServer(t, func(o *Options, m *pop3test.Mailbox) {
		m.BodyErr, m.BodyErrAfter = errors.New("disk on fire"), 10
	})
	c := newClient(t, env.dial(t))
	c.login()
	c.send("RETR 2")
	c.expect("+OK 42 octets")
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := readAll(c)
	if err != nil || strings.HasSuffix(rest, "\r\n.\r\n") {
		t.Errorf("after a failing body got %q, %v; want a truncated block and EOF", rest, err)
	}
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultBackendError || !strings.Contains(line["error"].(string), "disk on fire") {
		t.Errorf("result %v error %v, want backend_error naming the cause", line["result"], line["error"])
	}
}

func readAll(c *client) (string, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return b.String(), err
			}
			return b.String(), nil
		}
	}
}

func TestUpdateFailure(t *testing.T) {
	env := startServer(t, func(o *Options, m *pop3test.Mailbox) {
		m.Errors = map[string]error{"Update": errors.New("rename /var/mail/bob: read-only file system")}
	})
	c := newClient(t, env.dial(t))
	c.login()
	c.send("DELE 1")
	c.expect("+OK *")
	c.send("QUIT")
	c.expect("-ERR [SYS/TEMP] deletions not committed")
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultBackendError || !strings.Contains(line["error"].(string), "not committed") {
		t.Errorf("result %v error %v", line["result"], line["error"])
	}
	if line["deleted_msgs"] != int64(0) {
		t.Errorf("deleted_msgs = %v after a failed update", line["deleted_msgs"])
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		err    error
		reply  string
		result string
		auth   string
	}{
		{errors.New("dial tcp 10.0.0.5:110: connection refused"), "-ERR [SYS/TEMP] internal error", session.ResultBackendError, session.AuthUnknown},
		{&pop3.Error{Code: pop3.CodeInUse, Text: "mailbox locked"}, "-ERR [IN-USE] mailbox locked", session.ResultInUse, session.AuthOK},
		{&pop3.Error{Code: pop3.CodeLoginDelay, Text: "wait"}, "-ERR [LOGIN-DELAY] wait", session.ResultThrottled, session.AuthOK},
	}
	for _, tt := range tests {
		env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { fakeOpener(o).Err = tt.err })
		c := newClient(t, env.dial(t))
		c.expect("+OK *")
		got := c.auth(tt.reply)
		if strings.Contains(got, "10.0.0.5") {
			t.Errorf("reply %q leaks the cause", got)
		}
		c.send("QUIT")
		c.expect("+OK bye")
		line := env.sessionLines(t, 1)[0].ContextMap()
		if line["result"] != tt.result || !strings.Contains(line["error"].(string), "backend fake: user bob: open: ") {
			t.Errorf("%v: result %v error %q", tt.err, line["result"], line["error"])
		}
		if line["auth"] != tt.auth {
			t.Errorf("%v: auth %v, want %s", tt.err, line["auth"], tt.auth)
		}
	}
}

func TestUnknownBackend(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.Router = RouterFunc(func(user string) (string, bool) { return "gone", user == "bob" })
	})
	c := newClient(t, env.dial(t))
	c.expect("+OK *")
	c.auth("-ERR [SYS/PERM] mailbox not available")
	c.send("USER alice")
	c.expect("+OK")
	c.send("PASS wonderland")
	c.expect("+OK 3 messages*")
	c.send("QUIT")
	c.expect("+OK *")
	if line := env.sessionLines(t, 1)[0].ContextMap(); line["result"] != session.ResultOK || line["user"] != "alice" {
		t.Errorf("after a failed then good login: result %v user %v", line["result"], line["user"])
	}

	c = newClient(t, env.dial(t))
	c.expect("+OK *")
	c.auth("-ERR [SYS/PERM] mailbox not available")
	c.send("QUIT")
	c.expect("+OK *")
	if line := env.sessionLines(t, 2)[1].ContextMap(); line["auth"] != session.AuthNotChecked || line["result"] != session.ResultBackendError {
		t.Errorf("credentials never sent to a backend: auth %v result %v", line["auth"], line["result"])
	}
}

// TestShutdown: an idle AUTHORIZATION session is closed at once, a session
// in TRANSACTION is waited for, and closed without UPDATE when the drain
// time runs out.
func TestShutdown(t *testing.T) {
	env := startServer(t, nil)
	busy := newClient(t, env.dial(t))
	busy.login()
	m := <-env.boxes
	busy.send("DELE 1")
	busy.expect("+OK *")
	idle := newClient(t, env.dial(t))
	idle.expect("+OK *")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.srv.Shutdown(ctx) }()
	idle.expectClosed()
	busy.send("NOOP")
	busy.expect("+OK") // still served while draining
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	busy.expectClosed()
	if !m.Closed() || m.Updated() {
		t.Errorf("mailbox closed=%v updated=%v, want closed without update", m.Closed(), m.Updated())
	}
	lines := env.sessionLines(t, 2)
	if len(lines) != 2 {
		t.Errorf("%d session lines, want 2", len(lines))
	}
	if _, err := net.DialTimeout("tcp", env.addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
	if err := env.srv.Shutdown(context.Background()); err != ErrServerClosed {
		t.Errorf("second Shutdown = %v, want ErrServerClosed", err)
	}
}

func TestShutdownDrains(t *testing.T) {
	env := startServer(t, nil)
	c := newClient(t, env.dial(t))
	c.login()
	m := <-env.boxes
	done := make(chan error, 1)
	go func() { done <- env.srv.Shutdown(context.Background()) }()
	c.send("DELE 1")
	c.expect("+OK *")
	c.send("QUIT")
	c.expect("+OK bye*")
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if !m.Updated() {
		t.Error("a session that quit during the drain was not updated")
	}
}

// flakyListener fails its first Accepts with a temporary error.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

type tempErr struct{}

func (tempErr) Error() string   { return "accept: too many open files" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, tempErr{}
	}
	return l.Listener.Accept()
}

func TestAcceptBackoff(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	srv, err := New(Options{Backends: map[string]pop3.Opener{"x": &pop3test.Opener{}}, DefaultBackend: "x", Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &flakyListener{Listener: inner}
	l.fails.Store(3)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	c, err := net.DialTimeout("tcp", inner.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := newClient(t, c)
	cl.expect("+OK *")
	if n := logs.FilterMessage("accept failed; retrying").Len(); n != 3 {
		t.Errorf("%d retry logs, want 3", n)
	}
	srv.Close()
	if err := <-done; err != ErrServerClosed {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}

func TestNextBackoff(t *testing.T) {
	var got []time.Duration
	d := time.Duration(0)
	for range 10 {
		d = nextBackoff(d)
		got = append(got, d)
	}
	if got[0] != 5*time.Millisecond || got[1] != 10*time.Millisecond || got[9] != time.Second {
		t.Errorf("backoff sequence %v", got)
	}
}

// TestStalledReader: a client that stops reading in the middle of a large
// RETR is dropped after the idle timeout instead of pinning the session.
func TestStalledReader(t *testing.T) {
	big := []byte("Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("y", 98)+"\r\n", 60000))
	env := startServer(t, func(o *Options, m *pop3test.Mailbox) {
		o.IdleTimeout = 200 * time.Millisecond
		m.Messages = [][]byte{big}
	})
	conn := env.dial(t)
	conn.(*net.TCPConn).SetReadBuffer(4096)
	c := newClient(t, conn)
	c.expect("+OK *")
	c.auth("+OK 1 messages*")
	m := <-env.boxes
	c.send("RETR 1")
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultClientGone || !strings.Contains(line["error"].(string), "write to client") {
		t.Errorf("result %v error %v, want client_gone on write", line["result"], line["error"])
	}
	if !m.Closed() || m.Updated() {
		t.Errorf("mailbox closed=%v updated=%v", m.Closed(), m.Updated())
	}
}
