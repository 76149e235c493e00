package upstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// probeServer answers every connection with greeting and reports the
// first line the client sent.
func probeServer(t *testing.T, greeting string) (addr string, got <-chan string) {
	t.Helper()
	lines := make(chan string, 1)
	addr = startFake(t, func(s *pop3test.Conn) {
		s.Write(greeting)
		line, _ := s.ReadLine()
		lines <- line
	})
	return addr, lines
}

func TestProbeHealthyServerGetsQuit(t *testing.T) {
	addr, got := probeServer(t, "+OK ready\r\n")
	b := New(Options{Name: "legacy", Addr: addr, CommandTimeout: 5 * time.Second})
	if err := b.Probe(context.Background()); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	select {
	case line := <-got:
		if strings.TrimSpace(line) != "QUIT" {
			t.Errorf("server got %q, want QUIT", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server saw nothing")
	}
}

func TestProbeFailures(t *testing.T) {
	addr, _ := probeServer(t, "-ERR go away\r\n")
	b := New(Options{Name: "legacy", Addr: addr, CommandTimeout: 5 * time.Second})
	err := b.Probe(context.Background())
	if pop3.CodeOf(err) != pop3.CodeSysTemp || !strings.Contains(err.Error(), "legacy") {
		t.Errorf("-ERR greeting: got %v", err)
	}

	// A closed port.
	b = New(Options{Name: "gone", Addr: pop3test.ClosedAddr(t)})
	if err := b.Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("closed port: got %v", err)
	}

	// A server that never greets: the context bounds the wait.
	silent, _ := probeServer(t, "")
	b = New(Options{Name: "silent", Addr: silent})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := b.Probe(ctx); err == nil {
		t.Error("silent server: Probe succeeded")
	}
}
