package metrics

import (
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/session"
)

func TestSessionEnded(t *testing.T) {
	m := New()
	m.SessionEnded(&session.Record{Backend: "native", Result: session.ResultOK, RetrMsgs: 2, RetrBytes: 300,
		Mapping:    &session.Mapping{Mapped: 5, Unmapped: 3, NewlyMapped: 3, New: 2, Unmatched: 1},
		Throttling: &session.Throttling{Delay: 1500 * time.Millisecond}})
	m.SessionEnded(&session.Record{Backend: "native", Result: session.ResultOK, RetrMsgs: 1, RetrBytes: 50})
	m.SessionEnded(&session.Record{Result: session.ResultProtocolError})

	checkSamples(t, m, []want{
		{"popgate_sessions_total", map[string]string{"backend": "native", "result": "ok"}, 2},
		{"popgate_sessions_total", map[string]string{"backend": "none", "result": "protocol_error"}, 1},
		{"popgate_retr_bytes_total", map[string]string{"backend": "native"}, 350},
		{"popgate_retr_messages_total", map[string]string{"backend": "native"}, 3},
		{"popgate_uidl_messages_total", map[string]string{"kind": "mapped"}, 3},
		{"popgate_uidl_messages_total", map[string]string{"kind": "new"}, 2},
		{"popgate_uidl_messages_total", map[string]string{"kind": "unmatched"}, 1},
		{"popgate_throttle_delay_seconds", nil, 1},
	})
}

func TestCountListener(t *testing.T) {
	m := New()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := m.CountListener(raw)
	defer l.Close()
	client, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := sample(t, m, "popgate_active_sessions", nil); got != 1 {
		t.Errorf("active = %v after accept", got)
	}
	if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
		t.Errorf("RemoteAddr is %T", c.RemoteAddr())
	}
	c.Close()
	c.Close()
	if got := sample(t, m, "popgate_active_sessions", nil); got != 0 {
		t.Errorf("active = %v after two closes", got)
	}
}

func TestHandlerAndHooks(t *testing.T) {
	m := New()
	m.RouteReload(nil)
	m.RouteReload(errors.New("line 3: unknown backend"))
	m.RouteReload(nil)
	m.BackendUp("legacy", false)
	waiting := 4
	if err := m.QueueLength("legacy", func() int { return waiting }); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"legacy", "old"} {
		n := uint64(i + 1)
		if err := m.WatchPool(name, func() PoolStats { return PoolStats{Idle: 3, Taken: 10 * n, Missed: n, Refreshed: 7} }); err != nil {
			t.Fatal(err)
		}
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	for _, want := range []string{
		`popgate_routes_reloads_total{result="ok"} 2`,
		`popgate_routes_reloads_total{result="failed"} 1`,
		`popgate_backend_up{backend="legacy"} 0`,
		`popgate_throttle_queue_length{backend="legacy"} 4`,
		`popgate_backend_pool_idle_connections{backend="legacy"} 3`,
		`popgate_backend_pool_events_total{backend="legacy",event="taken"} 10`,
		`popgate_backend_pool_events_total{backend="old",event="taken"} 20`,
		`popgate_backend_pool_events_total{backend="old",event="missed"} 2`,
		`popgate_backend_pool_events_total{backend="legacy",event="discarded"} 0`,
		`popgate_backend_pool_events_total{backend="legacy",event="refreshed"} 7`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestBuildInfoAndReloadGauges(t *testing.T) {
	m := New()
	m.BuildInfo("1.2.3")
	if got := sample(t, m, "popgate_build_info", map[string]string{"version": "1.2.3", "goversion": runtime.Version()}); got != 1 {
		t.Errorf("build_info = %v, want 1", got)
	}
	m.RoutesLoaded()
	if sample(t, m, "popgate_routes_last_reload_successful", nil) != 1 || sample(t, m, "popgate_routes_last_reload_success_timestamp_seconds", nil) == 0 {
		t.Error("the routes loaded at start are not reported as a successful load")
	}
	loaded := sample(t, m, "popgate_routes_last_reload_success_timestamp_seconds", nil)
	m.RouteReload(errors.New("line 3: unknown backend"))
	if sample(t, m, "popgate_routes_last_reload_successful", nil) != 0 {
		t.Error("a failed reload left routes_last_reload_successful at 1")
	}
	if got := sample(t, m, "popgate_routes_last_reload_success_timestamp_seconds", nil); got != loaded {
		t.Errorf("a failed reload moved the success time from %v to %v", loaded, got)
	}
	m.RouteReload(nil)
	if sample(t, m, "popgate_routes_last_reload_successful", nil) != 1 {
		t.Error("a good reload after a failed one left routes_last_reload_successful at 0")
	}
}
