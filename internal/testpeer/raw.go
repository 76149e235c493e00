package testpeer

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Raw is a minimal POP3 client, independent of every client under test
// and of popgate's own codec, to see exactly what a server sends.
type Raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// DialRaw connects to addr and logs in with USER and PASS.
func DialRaw(t testing.TB, addr, user, pass string) *Raw {
	t.Helper()
	s := Dial(t, addr)
	s.OK("USER " + user)
	s.OK("PASS " + pass)
	return s
}

// Dial connects to addr and reads a +OK greeting.
func Dial(t testing.TB, addr string) *Raw {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := Wrap(t, conn)
	s.OK("") // greeting
	return s
}

// Wrap talks over a connection the test made itself (implicit TLS, or one
// that starts with a PROXY header); it reads nothing yet. The connection
// is closed when the test ends.
func Wrap(t testing.TB, conn net.Conn) *Raw {
	t.Cleanup(func() { conn.Close() })
	return &Raw{t: t, conn: conn, r: bufio.NewReaderSize(conn, 1<<20)}
}

// StartTLS sends STLS and, after +OK, runs the client side of the TLS
// handshake; the session goes on over TLS.
func (s *Raw) StartTLS(cfg *tls.Config) {
	s.t.Helper()
	s.OK("STLS")
	if s.r.Buffered() > 0 {
		s.t.Fatalf("raw STLS: %d bytes came before the handshake", s.r.Buffered())
	}
	tc := tls.Client(s.conn, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.t.Fatalf("raw STLS handshake: %v", err)
	}
	s.conn, s.r = tc, bufio.NewReaderSize(tc, 1<<20)
}

// OK sends cmd (unless empty) and returns the text after "+OK"; anything
// but +OK fails the test.
func (s *Raw) OK(cmd string) string {
	s.t.Helper()
	return strings.TrimSpace(strings.TrimPrefix(s.Expect(cmd, "+OK"), "+OK"))
}

// Expect sends cmd (unless empty) and returns the reply line, CRLF
// trimmed; a reply not starting with prefix fails the test.
func (s *Raw) Expect(cmd, prefix string) string {
	s.t.Helper()
	if cmd != "" {
		s.Send(cmd)
	}
	line, err := s.ReadLine()
	if err != nil || !strings.HasPrefix(line, prefix) {
		s.t.Fatalf("raw %q: %q, %v; want %q", cmd, line, err, prefix)
	}
	return strings.TrimRight(line, "\r\n")
}

// Send writes one command line without waiting for the reply.
func (s *Raw) Send(cmd string) {
	s.t.Helper()
	if err := s.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		s.t.Fatal(err)
	}
	if _, err := fmt.Fprintf(s.conn, "%s\r\n", cmd); err != nil {
		s.t.Fatal(err)
	}
}

// ReadLine reads one line as it comes, line ending included, for a test
// that expects the server to close the connection.
func (s *Raw) ReadLine() (string, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return "", err
	}
	return s.r.ReadString('\n')
}

// Close drops the connection without QUIT.
func (s *Raw) Close() { s.conn.Close() }

// Block sends cmd and returns its multi-line body, dot-unstuffed, CRLF kept.
func (s *Raw) Block(cmd string) []byte {
	s.t.Helper()
	s.OK(cmd)
	var body []byte
	for {
		line, err := s.r.ReadBytes('\n')
		if err != nil {
			s.t.Fatalf("raw %q: %v", cmd, err)
		}
		if string(line) == ".\r\n" {
			return body
		}
		body = append(body, bytes.TrimPrefix(line, []byte("."))...)
	}
}

// Lines sends cmd and returns the lines of its multi-line body.
func (s *Raw) Lines(cmd string) []string {
	s.t.Helper()
	body := strings.TrimSuffix(string(s.Block(cmd)), "\r\n")
	if body == "" {
		return nil
	}
	return strings.Split(body, "\r\n")
}

// Quit ends the session with QUIT.
func (s *Raw) Quit() {
	s.t.Helper()
	s.OK("QUIT")
	s.conn.Close()
}

// Wire sends cmd and returns the raw bytes of its whole reply: the status
// line and, for a multi-line reply, every line up to the final dot, with no
// unstuffing.
func (s *Raw) Wire(cmd string) []byte {
	s.t.Helper()
	s.Send(cmd)
	out, err := s.r.ReadBytes('\n')
	if err != nil {
		s.t.Fatalf("raw %q: %q, %v", cmd, out, err)
	}
	if !bytes.HasPrefix(out, []byte("+OK")) || !multiLine(cmd) {
		return out
	}
	for {
		line, err := s.r.ReadBytes('\n')
		out = append(out, line...)
		if err != nil {
			s.t.Fatalf("raw %q: %v after %d bytes", cmd, err, len(out))
		}
		if string(line) == ".\r\n" {
			return out
		}
	}
}

// multiLine reports whether a +OK to cmd starts a multi-line reply.
func multiLine(cmd string) bool {
	f := strings.Fields(strings.ToUpper(cmd))
	switch {
	case len(f) == 0:
		return false
	case f[0] == "CAPA" || f[0] == "RETR" || f[0] == "TOP":
		return true
	case f[0] == "LIST" || f[0] == "UIDL":
		return len(f) == 1
	}
	return false
}
