package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/proxy"
	"github.com/popgate/popgate/rewrite"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/bolt"
	"github.com/popgate/popgate/upstream"
)

// uidlStack is popgate assembled for UIDL continuity: the legacy server
// behind the "legacy" backend (learned from), a native mbox backend and
// optionally a Dovecot Maildir server (both mapped), a routes table the
// test edits to move users, and a bbolt store.
type uidlStack struct {
	Addr      string
	Store     store.UIDLStore
	NativeDir string
	logs      *observer.ObservedLogs

	mu     sync.Mutex
	routes map[string]string
}

type uidlPasswords map[string]string

func (p uidlPasswords) Authenticate(ctx context.Context, c pop3.Credentials) error {
	if want, ok := p[c.User]; !ok || c.Password != want {
		return pop3.ErrAuthFailed
	}
	return nil
}

func startUIDLStack(t *testing.T, legacyAddr string, passwords map[string]string, dovecotAddr string) *uidlStack {
	t.Helper()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &uidlStack{Store: st, NativeDir: t.TempDir(), routes: map[string]string{}}
	native, err := backend.New(backend.Options{Name: "native", Kind: backend.KindMbox,
		PathPattern: filepath.Join(s.NativeDir, "%u"), Auth: uidlPasswords(passwords), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { native.Close() })
	backends := map[string]pop3.Opener{
		"legacy": upstream.New(upstream.Options{Name: "legacy", Addr: legacyAddr, CommandTimeout: 20 * time.Second}),
		"native": native,
		// direct is the legacy server without learning, for clients
		// whose state must come from the legacy server alone.
		"direct": upstream.New(upstream.Options{Name: "direct", Addr: legacyAddr, CommandTimeout: 20 * time.Second}),
	}
	if dovecotAddr != "" {
		backends["dovecot"] = upstream.New(upstream.Options{Name: "dovecot", Addr: dovecotAddr, CommandTimeout: 20 * time.Second})
	}
	core, logs := observer.New(zapcore.InfoLevel)
	s.logs = logs
	log := zap.New(zapcore.NewTee(core, zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(uidlTestWriter{t}), zapcore.WarnLevel)))
	rw := rewrite.NewDecorator(rewrite.Options{Store: st, Logger: log}, "legacy")
	srv, err := proxy.New(proxy.Options{
		Backends:       backends,
		DefaultBackend: "legacy",
		Router: proxy.RouterFunc(func(user string) (string, bool) {
			s.mu.Lock()
			defer s.mu.Unlock()
			b, ok := s.routes[user]
			return b, ok
		}),
		Decorators:    []session.Decorator{rw},
		AuthFailDelay: -1,
		Hostname:      "popgate.test",
		Logger:        log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	s.Addr = ln.Addr().String()
	return s
}

// route moves user to backend for the next session.
func (s *uidlStack) route(user, backend string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[user] = backend
}

// sessionOn waits for user's first session line on backend: the proxy
// writes it after the client has gone, so it may lag the client's exit.
func (s *uidlStack) sessionOn(t *testing.T, user, backend string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := s.logs.FilterMessage("session").FilterField(zap.String("user", user)).FilterField(zap.String("backend", backend)).All()
		if len(lines) > 0 {
			return lines[0].ContextMap()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session line for %s on %s", user, backend)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uidlTestWriter sends warnings (unmatched messages) to the test log.
type uidlTestWriter struct{ t *testing.T }

func (w uidlTestWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
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
