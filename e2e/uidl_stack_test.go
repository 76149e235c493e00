package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/app"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/store"
)

// uidlStack is popgate configured for UIDL continuity: the legacy server
// behind the "legacy" backend (learned from), "direct" to the same server
// without learning, a native mbox backend and optionally a Dovecot Maildir
// server (both mapped), and a routes file the test edits to move users.
type uidlStack struct {
	*relayGate
	// Store is the server's UIDL map.
	Store     store.UIDLStore
	NativeDir string

	mu         sync.Mutex
	routes     map[string]string
	routesFile string
}

func startUIDLStack(t *testing.T, legacyAddr string, passwords map[string]string, dovecotAddr string) *uidlStack {
	t.Helper()
	s := &uidlStack{NativeDir: t.TempDir(), routes: map[string]string{}}
	s.routesFile = filepath.Join(t.TempDir(), "routes")
	if err := os.WriteFile(s.routesFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	backends := []string{
		"legacy=pop3://" + legacyAddr + "?timeout=20s",
		"native=" + mboxURL(s.NativeDir),
		"direct=pop3://" + legacyAddr + "?timeout=20s",
	}
	if dovecotAddr != "" {
		backends = append(backends, "dovecot=pop3://"+dovecotAddr+"?timeout=20s")
	}
	opened := make(chan store.UIDLStore, 1)
	s.relayGate = startRelayWith(t, app.Hooks{UIDLStore: func(st store.UIDLStore) { opened <- st }},
		"BACKENDS="+strings.Join(backends, ","), "DEFAULT_BACKEND=legacy", "ROUTES="+s.routesFile,
		"USERS_FILE="+usersFile(t, passwords), "UIDL_LEARN_FROM=legacy")
	s.Store = <-opened
	return s
}

// route moves user to backend for the next session: it rewrites the routes
// file and reloads it. The second reload is a barrier: its trigger is taken
// only once the first reload is done.
func (s *uidlStack) route(t *testing.T, user, backend string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[user] = backend
	var b strings.Builder
	for u, be := range s.routes {
		fmt.Fprintf(&b, "%s %s\n", u, be)
	}
	tmp := s.routesFile + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.routesFile); err != nil {
		t.Fatal(err)
	}
	s.reloadRoutes()
	s.reloadRoutes()
}

// sessionOn waits for user's first session line on backend: the proxy
// writes it after the client has gone, so it may lag the client's exit.
func (s *uidlStack) sessionOn(t *testing.T, user, backend string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range s.out.Lines(t, "session") {
			if l["user"] == user && l["backend"] == backend {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session line for %s on %s", user, backend)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uidlMessage is message i of the legacy spool (LF line ends).
func uidlMessage(tag string, i int, xuidl bool) []byte {
	var b strings.Builder
	if xuidl {
		fmt.Fprintf(&b, "X-UIDL: %s\n", uidlQpopperStyle(tag, i))
	}
	fmt.Fprintf(&b, "Received: from mx.example.org by mail.example.net; Mon, 5 Jan 2004 10:%02d:00 +0000\n", i)
	fmt.Fprintf(&b, "Date: Mon, 5 Jan 2004 10:%02d:00 +0000\nFrom: Sender <sender@example.org>\nTo: %s@example.net\n", i, tag)
	fmt.Fprintf(&b, "Subject: old message %d\n  folded subject line\nMessage-ID: <old-%s-%d@example.org>\n\n", i, tag, i)
	fmt.Fprintf(&b, "This is old message %d for %s.\n", i, tag)
	return []byte(b.String())
}

// uidlQpopperStyle is a 20-character UIDL in qpopper 3.x/4.x base80 form
// (every fifth character '!'), as a qpopper spool stores it.
func uidlQpopperStyle(tag string, i int) string {
	const alphabet = "#$%&()*+,-0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnop~"
	var b []byte
	seed := uint32(len(tag)*7919 + i*104729)
	for _, c := range tag {
		seed = seed*31 + uint32(c)
	}
	for k := range 20 {
		if k%5 == 4 {
			b = append(b, '!')
			continue
		}
		seed = seed*1103515245 + 12345
		b = append(b, alphabet[int(seed>>16)%len(alphabet)])
	}
	return string(b)
}

// uidlNewMessage is a message delivered after the move.
func uidlNewMessage(tag string, i int) []byte {
	return []byte(fmt.Sprintf("Received: from mx.example.org by mail.example.net; Tue, 6 Jan 2004 09:%02d:00 +0000\n"+
		"From: Sender <sender@example.org>\nTo: %s@example.net\nSubject: new message %d\nMessage-ID: <new-%s-%d@example.org>\n\n"+
		"This is new message %d for %s.\n", i, tag, i, tag, i, i, tag))
}

func uidlSpool(tag string, n int, xuidl bool) []byte {
	var b []byte
	for i := 1; i <= n; i++ {
		b = append(b, testpeer.MboxMessage(uidlMessage(tag, i, xuidl))...)
	}
	return b
}

// uidlAppendMbox delivers msg to an mbox file of the native backend.
func uidlAppendMbox(t *testing.T, path string, msg []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(testpeer.MboxMessage(msg)); err != nil {
		t.Fatal(err)
	}
}
