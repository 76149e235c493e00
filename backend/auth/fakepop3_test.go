package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

const ioTimeout = 5 * time.Second

// fakeLegacy is a tiny POP3 server that knows USER, PASS and QUIT, locks a
// maildrop while a session holds it (answering [IN-USE]), and records what
// each session did.
type fakeLegacy struct {
	addr     string
	users    map[string]string
	mu       sync.Mutex
	locked   map[string]bool
	logins   int
	quits    int
	sessions chan string // one line per finished session: "user:ok/quit"
}

func startFakeLegacy(t *testing.T, users map[string]string) *fakeLegacy {
	t.Helper()
	s := &fakeLegacy{users: users, locked: map[string]bool{}, sessions: make(chan string, 100)}
	s.addr = pop3test.Start(t, s.serve).Addr
	return s
}

func (s *fakeLegacy) serve(c *pop3test.Conn) {
	c.Send("+OK fake legacy ready")
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
		line, err := c.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch verb = strings.ToUpper(verb); {
		case verb == "USER" && arg != "":
			user = arg
			c.Send("+OK")
		case verb == "PASS" && arg != "":
			s.mu.Lock()
			pw, known := s.users[user]
			switch {
			case !known || pw != arg:
				c.Send("-ERR [AUTH] invalid login")
			case s.locked[user]:
				c.Send("-ERR [IN-USE] maildrop locked")
			default:
				s.locked[user], held = true, user
				s.logins++
				result = "ok"
				c.Send("+OK maildrop locked and ready")
			}
			s.mu.Unlock()
		case verb == "QUIT":
			s.mu.Lock()
			s.quits++
			s.mu.Unlock()
			result += "/quit"
			c.Send("+OK bye")
			return
		default:
			c.Send("-ERR unknown command")
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

var errNotCalled = errors.New("opener must not be called")

// nopConn is a net.Conn whose Close does nothing; only Close is used.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }
