package proxy

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
)

// reset closes c with an RST, as a client that dies with unread data does.
func reset(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// A message counts as retrieved only when the client showed it read it;
// one it reset the connection on is the broken transfer, with its number.
func TestRetrCountsOnlyMessagesTheClientRead(t *testing.T) {
	big := strings.Repeat("x", 76) + "\r\n"
	big = strings.Repeat(big, 8<<20/len(big)) // larger than the socket buffers
	for _, tc := range []struct {
		name       string
		msg        int
		readBody   bool
		clean      bool // close with FIN rather than RST
		wantRetr   int64
		wantBroken int64 // broken_msg, 0: none
	}{
		{"reset after the status line", 2, false, false, 1, 2},
		{"reset in a huge message", 3, false, false, 1, 3},
		{"read whole, clean close without QUIT", 2, true, true, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startServer(t, func(_ *Options, m *pop3test.Mailbox) {
				m.Messages = append(m.Messages[:2:2], []byte(big))
			})
			conn := env.dial(t)
			c := newClient(t, conn)
			c.login()
			c.send("RETR 1")
			c.expect("+OK *")
			c.block()
			c.send("RETR " + strconv.Itoa(tc.msg))
			c.expect("+OK *")
			if tc.readBody {
				c.block()
			} else if tc.msg == 3 {
				io.CopyN(io.Discard, c.r, 20<<10)
			}
			if tc.clean {
				conn.Close()
			} else {
				reset(t, conn)
			}
			m := env.sessionLines(t, 1)[0].ContextMap()
			if m["retr_msgs"] != tc.wantRetr || m["result"] != "client_gone" {
				t.Errorf("retr_msgs = %v, result = %v; want %d, client_gone", m["retr_msgs"], m["result"], tc.wantRetr)
			}
			if tc.wantBroken == 0 {
				if _, ok := m["broken_msg"]; ok {
					t.Errorf("broken_msg = %v after a clean close", m["broken_msg"])
				}
				return
			}
			if m["broken_msg"] != tc.wantBroken {
				t.Errorf("broken_msg = %v, want %d", m["broken_msg"], tc.wantBroken)
			}
			if b, _ := m["broken_bytes"].(int64); b <= 0 || b > int64(len(big)) {
				t.Errorf("broken_bytes = %v", m["broken_bytes"])
			}
			if m["retr_bytes"] != int64(len(testMessages[0])) {
				t.Errorf("retr_bytes = %v, want only message 1's %d", m["retr_bytes"], len(testMessages[0]))
			}
		})
	}
}

func TestOpenMaildrops(t *testing.T) {
	env := startServer(t, nil)
	c := newClient(t, env.dial(t))
	c.login()
	if n := env.srv.OpenMaildrops("bob"); n != 1 {
		t.Errorf("OpenMaildrops(bob) = %d during a session, want 1", n)
	}
	if n := env.srv.OpenMaildrops("alice"); n != 0 {
		t.Errorf("OpenMaildrops(alice) = %d, want 0", n)
	}
	c.send("QUIT")
	c.expect("+OK *")
	env.sessionLines(t, 1)
	if n := env.srv.OpenMaildrops("bob"); n != 0 {
		t.Errorf("OpenMaildrops(bob) = %d after QUIT, want 0", n)
	}
}
