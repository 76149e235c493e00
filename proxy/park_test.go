//go:build linux

package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/session"
)

// parkQuickly parks sessions after 50 ms of silence.
func parkQuickly(o *Options, _ *pop3test.Mailbox) { o.ParkIdleAfter = 50 * time.Millisecond }

// waitParked waits until n sessions are parked and no goroutine waits for
// a command.
func waitParked(t *testing.T, env *testEnv, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := env.srv.parker.Load()
		if p != nil && p.parkedCount() == n && waitingForCommand() == 0 {
			return
		}
		if time.Now().After(deadline) {
			got := 0
			if p != nil {
				got = p.parkedCount()
			}
			t.Fatalf("%d sessions parked and %d goroutines waiting for a command, want %d and 0", got, waitingForCommand(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// parkedClient logs in and waits until the session is parked.
func parkedClient(t *testing.T, env *testEnv) (*client, *pop3test.Mailbox) {
	t.Helper()
	c := newClient(t, env.dial(t))
	c.login()
	m := <-env.boxes
	waitParked(t, env, 1)
	return c, m
}

// waitingForCommand counts the goroutines in readCommand.
func waitingForCommand() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "(*clientSession).readCommand")
}

func TestParkedSessionResumes(t *testing.T) {
	env := startServer(t, parkQuickly)
	c, m := parkedClient(t, env)
	c.send("STAT")
	c.expect("+OK 3 *")
	c.send("DELE 1")
	c.expect("+OK*")
	waitParked(t, env, 1)
	// A command in two pieces, with a pause longer than ParkIdleAfter:
	// once its first bytes came, the rest is waited for on the goroutine.
	c.c.Write([]byte("NO"))
	time.Sleep(200 * time.Millisecond)
	c.c.Write([]byte("OP\r\n"))
	c.expect("+OK*")
	// Pipelined commands are all answered.
	c.c.Write([]byte("NOOP\r\nLAST\r\n"))
	c.expect("+OK*")
	c.expect("+OK 0")
	waitParked(t, env, 1)
	c.send("QUIT")
	c.expect("+OK*")
	c.expectClosed()
	if line := env.sessionLines(t, 1)[0].ContextMap(); line["result"] != session.ResultOK {
		t.Errorf("result %v, want ok", line["result"])
	}
	if !m.Updated() {
		t.Error("QUIT after parking did not commit the deletion")
	}
}

func TestParkedSessionIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	env := startServer(t, func(o *Options, m *pop3test.Mailbox) {
		parkQuickly(o, m)
		o.IdleTimeout = idle
	})
	start := time.Now()
	c, m := parkedClient(t, env)
	c.expect("-ERR [SYS/TEMP] idle timeout")
	if d := time.Since(start); d < idle-50*time.Millisecond {
		t.Errorf("timed out after %s, want about %s", d, idle)
	}
	c.expectClosed()
	if line := env.sessionLines(t, 1)[0].ContextMap(); line["result"] != session.ResultTimeout {
		t.Errorf("result %v, want timeout", line["result"])
	}
	if !m.Closed() || m.Updated() {
		t.Errorf("mailbox closed=%v updated=%v, want closed without update", m.Closed(), m.Updated())
	}
}

func TestParkedSessionClientGone(t *testing.T) {
	env := startServer(t, parkQuickly)
	c, _ := parkedClient(t, env)
	c.c.Close()
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultClientGone {
		t.Errorf("result %v, want client_gone", line["result"])
	}
	waitParked(t, env, 0)
}

func TestParkedSessionShutdown(t *testing.T) {
	env := startServer(t, parkQuickly)
	c, m := parkedClient(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown returned %v, want the drain to time out on the parked session", err)
	}
	c.expectClosed()
	line := env.sessionLines(t, 1)[0].ContextMap()
	if err, _ := line["error"].(string); !strings.Contains(err, "closed by server shutdown") {
		t.Errorf("error %q, want closed by server shutdown", err)
	}
	if !m.Closed() || m.Updated() {
		t.Errorf("mailbox closed=%v updated=%v, want closed without update", m.Closed(), m.Updated())
	}
}

func TestParkedTLSSession(t *testing.T) {
	srvConf, cliConf := testTLS(t)
	env := startServer(t, func(o *Options, m *pop3test.Mailbox) {
		parkQuickly(o, m)
		o.TLSConfig = srvConf
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go env.srv.ServeTLS(l)
	for _, stls := range []bool{false, true} {
		addr := l.Addr().String()
		if stls {
			addr = env.addr
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if stls {
			c := newClient(t, conn)
			c.expect("+OK*")
			c.send("STLS")
			c.expect("+OK*")
		}
		tc := tls.Client(conn, cliConf)
		c := newClient(t, tc)
		if stls {
			c.auth("+OK 3 messages*")
		} else {
			c.login()
		}
		waitParked(t, env, 1)
		c.send("STAT")
		c.expect("+OK 3 *")
		waitParked(t, env, 1)
		c.send("QUIT")
		c.expect("+OK*")
		c.expectClosed()
		waitParked(t, env, 0)
	}
}

func TestParkingOff(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { o.ParkIdleAfter = -1 })
	c := newClient(t, env.dial(t))
	c.login()
	time.Sleep(2 * DefaultParkIdleAfter)
	if env.srv.parker.Load() != nil || waitingForCommand() != 1 {
		t.Errorf("parker %v, %d goroutines waiting for a command; want none and 1", env.srv.parker.Load(), waitingForCommand())
	}
	c.send("STAT")
	c.expect("+OK 3 *")
}
