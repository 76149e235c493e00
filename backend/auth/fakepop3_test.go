package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
)

const ioTimeout = 5 * time.Second

// fakeLegacy is a tiny POP3 server that knows USER, PASS and QUIT, locks a
// maildrop while a session holds it (answering [IN-USE]), and records what
// each session did.
type fakeLegacy struct {
	ln       net.Listener
	users    map[string]string
	mu       sync.Mutex
	locked   map[string]bool
	logins   int
	quits    int
	sessions chan string // one line per finished session: "user:ok/quit"
}

func startFakeLegacy(t *testing.T, users map[string]string) *fakeLegacy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeLegacy{ln: ln, users: users, locked: map[string]bool{}, sessions: make(chan string, 100)}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c) }()
		}
	}()
	return s
}

func (s *fakeLegacy) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	r, w := pop3.NewReader(c), pop3.NewWriter(c)
	reply := func(line string) { w.Line(line); w.Flush() }
	reply("+OK fake legacy ready")
	var user, held string
	result := "none"
	defer func() {
		s.mu.Lock()
		if held != "" {
			delete(s.locked, held)
		}
		s.mu.Unlock()
		s.sessions <- user + ":" + result
	}()
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			return
		}
		switch {
		case cmd.Name == "USER" && len(cmd.Args) == 1:
			user = cmd.Args[0]
			reply("+OK")
		case cmd.Name == "PASS" && len(cmd.Args) == 1:
			s.mu.Lock()
			pw, known := s.users[user]
			switch {
			case !known || pw != cmd.Args[0]:
				reply("-ERR [AUTH] invalid login")
			case s.locked[user]:
				reply("-ERR [IN-USE] maildrop locked")
			default:
				s.locked[user], held = true, user
				s.logins++
				result = "ok"
				reply("+OK maildrop locked and ready")
			}
			s.mu.Unlock()
		case cmd.Name == "QUIT":
			s.mu.Lock()
			s.quits++
			s.mu.Unlock()
			result += "/quit"
			reply("+OK bye")
			return
		default:
			reply("-ERR unknown command")
		}
	}
}

// session waits for the next finished session's summary.
func (s *fakeLegacy) session(t *testing.T) string {
	t.Helper()
	select {
	case r := <-s.sessions:
		return r
	case <-time.After(ioTimeout):
		t.Fatal("fake legacy server: no session finished")
		return ""
	}
}

func (s *fakeLegacy) counts() (logins, quits int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins, s.quits
}

// dialOpener is a minimal POP3 login client standing in for the upstream
// backend: it logs in with USER/PASS and returns a Mailbox whose Close drops
// the connection without QUIT, as upstream's Close does.
func dialOpener(addr string) pop3.Opener {
	return pop3.OpenerFunc(func(ctx context.Context, c pop3.Credentials) (pop3.Mailbox, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		conn.SetDeadline(time.Now().Add(ioTimeout))
		r, w := pop3.NewReader(conn), pop3.NewWriter(conn)
		for _, line := range []string{"", "USER " + c.User, "PASS " + c.Password} {
			if line != "" {
				w.Line(line)
				w.Flush()
			}
			resp, err := r.ReadResponse()
			if err == nil && !resp.OK {
				err = resp.Err()
			}
			if err != nil {
				conn.Close()
				return nil, err
			}
		}
		return connMailbox{conn: conn}, nil
	})
}

type connMailbox struct {
	pop3.Mailbox // nil: only Close may be called
	conn         net.Conn
}

func (m connMailbox) Close() error { return m.conn.Close() }

// closedAddr returns a loopback address nothing listens on.
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

var errNotCalled = errors.New("opener must not be called")

// nopConn is a net.Conn whose Close does nothing; only Close is used.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }
