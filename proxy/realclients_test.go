package proxy

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/session"
)

// trickyMessages are testpeer's tricky messages as a backend stores them:
// CRLF line ends, unstuffed.
func trickyMessages() [][]byte {
	var out [][]byte
	for _, m := range testpeer.SplitMbox(testpeer.TrickyMbox()) {
		out = append(out, bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n")))
	}
	return out
}

// crlfComplete is a message as RETR sends it: with a final CRLF.
func crlfComplete(m []byte) []byte {
	if !bytes.HasSuffix(m, []byte("\r\n")) {
		return append(append([]byte{}, m...), "\r\n"...)
	}
	return m
}

// TestRealClients fetches the tricky messages through the proxy with every
// real client (poplib, fetchmail, mpop with its pipelining, getmail, curl
// with AUTH PLAIN). poplib reports exact bytes, which must be the backend's
// bytes; every client must see every message with its UIDL, and the session
// must end cleanly.
func TestRealClients(t *testing.T) {
	want := trickyMessages()
	for _, spec := range testpeer.Clients() {
		t.Run(spec.Name, func(t *testing.T) {
			t.Parallel()
			env := startServer(t, func(o *Options, m *pop3test.Mailbox) { m.Messages = want })
			got := spec.New(t, env.addr, "bob", "secret").Poll()
			if len(got) != len(want) {
				t.Fatalf("%s fetched %d messages, want %d", spec.Name, len(got), len(want))
			}
			for i, m := range got {
				if m.UIDL != "" && m.UIDL != fmt.Sprintf("uid%d", i+1) {
					t.Errorf("message %d: UIDL %q, want uid%d", i+1, m.UIDL, i+1)
				}
				subject := fmt.Sprintf("Message-ID: <tricky-%d@example.org>", i+1)
				if !bytes.Contains(m.Body, []byte(subject)) {
					t.Errorf("message %d lacks %q", i+1, subject)
				}
				if spec.Name == "poplib" && !bytes.Equal(m.Body, crlfComplete(want[i])) {
					t.Errorf("message %d: poplib got %q,\nwant %q", i+1, trunc(m.Body), trunc(want[i]))
				}
			}
			for _, e := range env.sessionLines(t, 1) {
				if r := e.ContextMap()["result"]; r != session.ResultOK {
					t.Errorf("session result %v: %v", r, e.ContextMap()["error"])
				}
			}
		})
	}
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// TestPoplibTLS fetches through STLS and implicit TLS with Python's poplib,
// which checks the certificate against the test CA.
func TestPoplibTLS(t *testing.T) {
	files := testpeer.NewTLSFiles(t)
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	want := trickyMessages()
	env := startServer(t, func(o *Options, m *pop3test.Mailbox) {
		m.Messages = want
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go env.srv.ServeTLS(l)
	for _, tc := range []struct {
		addr string
		opt  testpeer.PoplibOption
	}{
		{env.addr, testpeer.PoplibSTLS(files.CAFile)},
		{l.Addr().String(), testpeer.PoplibImplicitTLS(files.CAFile)},
	} {
		got := testpeer.Poplib(t, tc.addr, "bob", "secret", tc.opt)
		if len(got) != len(want) {
			t.Fatalf("fetched %d messages, want %d", len(got), len(want))
		}
		for i, m := range got {
			if !bytes.Equal(m.Body, crlfComplete(want[i])) {
				t.Errorf("message %d differs: %q", i+1, trunc(m.Body))
			}
		}
	}
	lines := env.sessionLines(t, 2)
	seen := map[any]bool{}
	for _, e := range lines {
		seen[e.ContextMap()["tls"]] = true
	}
	if !seen["stls"] || !seen["implicit"] {
		t.Errorf("session lines show tls %v, want stls and implicit", seen)
	}
}
