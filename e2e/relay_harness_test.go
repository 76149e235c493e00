package e2e

import (
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/proxy"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/upstream"
)

// relayGate is a popgate relay on 127.0.0.1 with its session lines captured.
type relayGate struct {
	Addr string
	logs *observer.ObservedLogs

	mu      sync.Mutex
	records []*session.Record
}

// startRelay serves POP3 on a free loopback port in front of the given
// backends; def is the default backend's name.
func startRelay(t testing.TB, backends map[string]pop3.Opener, def string, opts ...func(*proxy.Options)) *relayGate {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	g := &relayGate{logs: logs}
	o := proxy.Options{
		Backends:       backends,
		DefaultBackend: def,
		AuthFailDelay:  -1,
		Hostname:       "popgate.test",
		Logger:         zap.New(core),
		OnSessionEnd: func(r *session.Record) {
			g.mu.Lock()
			g.records = append(g.records, r)
			g.mu.Unlock()
		},
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := proxy.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return g
}

// legacy is an upstream opener for a real server at addr.
func legacy(name, addr string) pop3.Opener {
	return upstream.New(upstream.Options{Name: name, Addr: addr, DialTimeout: 5 * time.Second, CommandTimeout: 20 * time.Second})
}

// sessionLines waits until n session lines were logged and returns them.
func (g *relayGate) sessionLines(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries := g.logs.FilterMessage("session").All()
		if len(entries) >= n || time.Now().After(deadline) {
			out := make([]map[string]any, len(entries))
			for i, e := range entries {
				out[i] = e.ContextMap()
			}
			if len(out) < n {
				t.Fatalf("%d session lines logged, want %d", len(out), n)
			}
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}
