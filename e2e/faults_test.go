package e2e

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/upstream"
)

// fakeLegacy accepts connections and runs script on each one.
func fakeLegacy(t *testing.T, script func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				script(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

// loginAndServe greets, accepts any login, answers STAT, and hands the
// first other command over to rest.
func loginAndServe(rest func(c net.Conn, r *bufio.Reader)) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, r *bufio.Reader) {
		c.Write([]byte("+OK legacy ready\r\n"))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.Fields(line + " x")[0])
			switch cmd {
			case "CAPA":
				c.Write([]byte("-ERR no CAPA\r\n"))
			case "USER", "PASS":
				c.Write([]byte("+OK\r\n"))
			case "STAT":
				c.Write([]byte("+OK 2 2000\r\n"))
			default:
				rest(c, r)
				return
			}
		}
	}
}

// client is a raw POP3 client with a deadline on every read.
type rawClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{t: t, c: c, r: bufio.NewReader(c)}
	rc.expect("+OK")
	return rc
}

func (rc *rawClient) send(line string) { rc.c.Write([]byte(line + "\r\n")) }

// expect reads one line and checks its prefix; it returns the line.
func (rc *rawClient) expect(prefix string) string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("reading reply (want %q): %v", prefix, err)
	}
	if !strings.HasPrefix(line, prefix) {
		rc.t.Fatalf("reply %q, want prefix %q", line, prefix)
	}
	return line
}

// TestBackendFaults checks that a dead, hanging or dying legacy server
// gives the client a clear -ERR [SYS/TEMP] within the configured timeout,
// and one session line whose cause names the backend and the user.
func TestBackendFaults(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()

	login := func(rc *rawClient, want string) {
		rc.send("USER rachel")
		rc.expect("+OK")
		rc.send("PASS pw")
		rc.expect(want)
	}
	refusedAtLogin := func(rc *rawClient) { login(rc, "-ERR [SYS/TEMP]") }
	tests := []struct {
		name   string
		addr   string
		client func(rc *rawClient)
		cause  string
	}{
		{name: "server down", addr: deadAddr, client: refusedAtLogin, cause: "refused"},
		{
			name:   "server never greets",
			addr:   fakeLegacy(t, func(c net.Conn, r *bufio.Reader) { r.ReadString('\n') }),
			client: refusedAtLogin,
			cause:  "timeout",
		},
		{
			name: "server stops answering",
			addr: fakeLegacy(t, loginAndServe(func(c net.Conn, r *bufio.Reader) { time.Sleep(10 * time.Second) })),
			client: func(rc *rawClient) {
				login(rc, "+OK")
				rc.send("UIDL")
				rc.expect("-ERR [SYS/TEMP]")
			},
			cause: "timeout",
		},
		{
			name: "server closes mid-RETR",
			addr: fakeLegacy(t, loginAndServe(func(c net.Conn, r *bufio.Reader) {
				c.Write([]byte("+OK 1000 octets\r\nSubject: half\r\n\r\nfirst line\r\n"))
			})),
			client: func(rc *rawClient) {
				login(rc, "+OK")
				rc.send("RETR 1")
				rc.expect("+OK")
				// The message cannot be completed: the connection must end
				// without a terminating dot, so the client never takes half
				// a message for a whole one.
				rc.c.SetReadDeadline(time.Now().Add(15 * time.Second))
				for {
					line, err := rc.r.ReadString('\n')
					if err != nil {
						return
					}
					if line == ".\r\n" {
						rc.t.Fatal("a truncated message was terminated as if complete")
					}
				}
			},
			cause: "retr",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := upstream.New(upstream.Options{Name: "legacy", Addr: tt.addr, DialTimeout: time.Second, CommandTimeout: time.Second})
			gate := startRelay(t, map[string]pop3.Opener{"legacy": be}, "legacy")
			start := time.Now()
			rc := dialRaw(t, gate.Addr)
			tt.client(rc)
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("the client waited %v for a 1s backend timeout", d)
			}
			rc.c.Close()
			lines := gate.sessionLines(t, 1)
			if len(lines) != 1 {
				t.Fatalf("%d session lines, want 1", len(lines))
			}
			l := lines[0]
			errText, _ := l["error"].(string)
			if l["result"] != "backend_error" || !strings.Contains(errText, "legacy") || !strings.Contains(errText, "rachel") || !strings.Contains(strings.ToLower(errText), tt.cause) {
				t.Errorf("session line result %v error %q; want backend_error naming legacy, rachel and %q", l["result"], errText, tt.cause)
			}
		})
	}
}
