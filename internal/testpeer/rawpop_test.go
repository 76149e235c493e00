package testpeer

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawSession is a minimal POP3 client written here, independent of every
// client under test, to see exactly what a server sends.
type rawSession struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, addr, user, pass string) *rawSession {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &rawSession{t: t, conn: conn, r: bufio.NewReaderSize(conn, 1<<20)}
	s.status("") // greeting
	s.status("USER " + user)
	s.status("PASS " + pass)
	return s
}

// status sends cmd (unless empty) and returns the +OK line; -ERR fails.
func (s *rawSession) status(cmd string) string {
	s.t.Helper()
	if err := s.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		s.t.Fatal(err)
	}
	if cmd != "" {
		if _, err := fmt.Fprintf(s.conn, "%s\r\n", cmd); err != nil {
			s.t.Fatal(err)
		}
	}
	line, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("%s: %v", cmd, err)
	}
	if !strings.HasPrefix(line, "+OK") {
		s.t.Fatalf("%s: %q", cmd, line)
	}
	return line
}

// multi sends cmd and returns the multi-line body, dot-unstuffed, CRLF kept.
func (s *rawSession) multi(cmd string) []byte {
	s.t.Helper()
	s.status(cmd)
	var body []byte
	for {
		line, err := s.r.ReadBytes('\n')
		if err != nil {
			s.t.Fatalf("%s: %v", cmd, err)
		}
		if string(line) == ".\r\n" {
			return body
		}
		body = append(body, bytes.TrimPrefix(line, []byte("."))...)
	}
}

// uidls returns the UIDL listing in message-number order.
func (s *rawSession) uidls() []string {
	s.t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(s.multi("UIDL"))), "\r\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			s.t.Fatalf("UIDL line %q", line)
		}
		out = append(out, f[1])
	}
	return out
}

// all returns every message as the server sends it for RETR.
func (s *rawSession) all() []Message {
	s.t.Helper()
	var msgs []Message
	for i, u := range s.uidls() {
		msgs = append(msgs, Message{UIDL: u, Body: s.multi(fmt.Sprintf("RETR %d", i+1))})
	}
	return msgs
}

func (s *rawSession) quit() {
	s.t.Helper()
	s.status("QUIT")
}
