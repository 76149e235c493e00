package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// switchable is a backend whose health the test turns on and off.
type switchable struct {
	down   atomic.Bool
	checks atomic.Int64
}

func (s *switchable) probe(context.Context) error {
	s.checks.Add(1)
	if s.down.Load() {
		return errors.New("dial tcp 127.0.0.1:1: connection refused")
	}
	return nil
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, c *Checker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestGuardFailsFastWhileUnhealthyAndRecovers(t *testing.T) {
	var changes atomic.Int64
	c := New(Options{Interval: 10 * time.Millisecond, Timeout: time.Second,
		OnChange: func(string, bool) { changes.Add(1) }})
	b := &switchable{}
	b.down.Store(true)
	c.Add("legacy", b.probe)
	inner := &pop3test.Opener{Passwords: map[string]string{"alice": "pw"},
		NewMailbox: func(string) pop3.Mailbox { return pop3test.NewMailbox() }, APOP: true}
	op := c.Guard("legacy", inner)
	if ap, ok := op.(pop3.APOPer); !ok || !ap.SupportsAPOP() {
		t.Error("Guard hides APOP support")
	}

	// Before the first check the backend is tried.
	if _, err := op.Open(context.Background(), pop3.Credentials{User: "alice", Password: "pw"}); err != nil {
		t.Fatalf("unchecked backend refused: %v", err)
	}
	start(t, c)
	waitFor(t, "the backend to be down", func() bool { s, _ := c.lookup("legacy"); return !s.Healthy && !s.Checked.IsZero() })
	if s, _ := c.lookup("legacy"); s.failed < DefaultFailures {
		t.Errorf("down after %d failed checks, want %d", s.failed, DefaultFailures)
	}

	_, err := op.Open(context.Background(), pop3.Credentials{User: "alice", Password: "pw"})
	if pop3.CodeOf(err) != pop3.CodeSysTemp || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unhealthy backend: got %v, want [SYS/TEMP] with ErrUnavailable", err)
	}
	var pe *pop3.Error
	errors.As(err, &pe)
	if pe.Text != pop3.ErrBackendTemporary.Text {
		t.Errorf("client sees %q", pe.Text)
	}
	if n := len(inner.Credentials()); n != 1 {
		t.Errorf("the backend saw %d logins, want only the one before the check", n)
	}

	b.down.Store(false)
	waitFor(t, "recovery", func() bool { s, _ := c.lookup("legacy"); return s.Healthy })
	if _, err := op.Open(context.Background(), pop3.Credentials{User: "alice", Password: "pw"}); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if changes.Load() < 2 {
		t.Errorf("OnChange called %d times", changes.Load())
	}
}

// One failed check (a lost packet, a server restarting) does not refuse
// logins for a whole interval: they are still tried.
func TestOneFailedCheckStillTries(t *testing.T) {
	c := New(Options{Interval: time.Hour, Timeout: time.Second})
	b := &switchable{}
	b.down.Store(true)
	c.Add("legacy", b.probe)
	inner := &pop3test.Opener{Passwords: map[string]string{"alice": "pw"},
		NewMailbox: func(string) pop3.Mailbox { return pop3test.NewMailbox() }}
	op := c.Guard("legacy", inner)
	start(t, c)
	waitFor(t, "the first check", func() bool { s, _ := c.lookup("legacy"); return !s.Checked.IsZero() })
	if s, _ := c.lookup("legacy"); !s.Healthy || s.Error == "" {
		t.Errorf("after one failed check: %+v; want still healthy, with the error", s)
	}
	if _, err := op.Open(context.Background(), pop3.Credentials{User: "alice", Password: "pw"}); err != nil {
		t.Errorf("login after one failed check: %v; want tried", err)
	}
}

func TestChecksGoOnWhileDown(t *testing.T) {
	c := New(Options{Interval: 5 * time.Millisecond})
	b := &switchable{}
	b.down.Store(true)
	c.Add("legacy", b.probe)
	start(t, c)
	waitFor(t, "several checks", func() bool { return b.checks.Load() >= 3 })
}

// readyzOf serves c's /readyz and returns a function that GETs it.
func readyzOf(t *testing.T, c *Checker, listening func() bool) func() (int, readiness) {
	srv := httptest.NewServer(c.Readyz(listening))
	t.Cleanup(srv.Close)
	return func() (int, readiness) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r readiness
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, r
	}
}

func TestReadyz(t *testing.T) {
	for _, strict := range []bool{false, true} {
		c := New(Options{Interval: 5 * time.Millisecond, Failures: 1, Strict: strict})
		up, down := &switchable{}, &switchable{}
		down.down.Store(true)
		c.Add("native-ish", up.probe)
		c.Add("legacy", down.probe)
		var listening atomic.Bool
		get := readyzOf(t, c, listening.Load)

		code, r := get()
		if code != http.StatusServiceUnavailable || r.Listening || len(r.Unhealthy) != 2 {
			t.Errorf("strict=%v: before anything: %d %+v", strict, code, r)
		}
		start(t, c)
		listening.Store(true)
		waitFor(t, "both checks", func() bool {
			for _, s := range c.Status() {
				if s.Checked.IsZero() {
					return false
				}
			}
			return true
		})
		code, r = get()
		wantCode := http.StatusOK
		if strict {
			wantCode = http.StatusServiceUnavailable
		}
		if code != wantCode || !slices.Equal(r.Unhealthy, []string{"legacy"}) || !slices.Equal(r.Degraded, []string{"legacy"}) {
			t.Errorf("strict=%v: one backend down: %d %+v; want %d naming it", strict, code, r, wantCode)
		}
		if r.Backends[0].Backend != "legacy" || r.Backends[0].Error == "" {
			t.Errorf("the body does not say why: %+v", r.Backends)
		}
		down.down.Store(false)
		waitFor(t, "recovery", func() bool { s, _ := c.lookup("legacy"); return s.Healthy })
		if code, r = get(); code != http.StatusOK || !r.Ready || len(r.Degraded) != 0 {
			t.Errorf("strict=%v: all healthy: %d %+v", strict, code, r)
		}
	}
}

// An unreachable store makes the instance unready at its first failed
// check, and /readyz says so.
func TestReadyzWatchesTheStore(t *testing.T) {
	c := New(Options{Interval: 5 * time.Millisecond})
	store := &switchable{}
	var ups, downs atomic.Int64
	c.WatchStore(store.probe, func(up bool) {
		if up {
			ups.Add(1)
		} else {
			downs.Add(1)
		}
	})
	get := readyzOf(t, c, func() bool { return true })
	start(t, c)
	waitFor(t, "a store check", func() bool { return ups.Load() > 0 })
	if code, r := get(); code != http.StatusOK || r.Store == nil || !r.Store.Healthy {
		t.Errorf("store up: %d %+v", code, r)
	}
	store.down.Store(true)
	waitFor(t, "the store to be down", func() bool { s, _ := c.StoreStatus(); return !s.Healthy })
	if code, r := get(); code != http.StatusServiceUnavailable || !slices.Equal(r.Degraded, []string{"store"}) || r.Store.Error == "" {
		t.Errorf("store down: %d %+v; want 503 naming the store", code, r)
	}
	store.down.Store(false)
	waitFor(t, "the store to be back", func() bool { s, _ := c.StoreStatus(); return s.Healthy })
	if code, _ := get(); code != http.StatusOK {
		t.Errorf("store back: %d", code)
	}
	if downs.Load() == 0 {
		t.Error("onChange never saw the store down")
	}
}

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	Healthz().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
}

// A backend that answered a real login within the interval is not probed:
// its server's log gets no line for a check.
func TestAnsweredLoginReplacesTheCheck(t *testing.T) {
	c := New(Options{Interval: 200 * time.Millisecond, Timeout: time.Second})
	b := &switchable{}
	c.Add("legacy", b.probe)
	inner := &pop3test.Opener{Passwords: map[string]string{"alice": "pw"},
		NewMailbox: func(string) pop3.Mailbox { return pop3test.NewMailbox() }}
	op := c.Guard("legacy", inner)
	login := func() {
		mb, err := op.Open(context.Background(), pop3.Credentials{User: "alice", Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		mb.Close()
	}
	login()
	start(t, c)
	for range 50 {
		login()
		time.Sleep(10 * time.Millisecond)
	}
	if n := b.checks.Load(); n != 0 {
		t.Errorf("%d checks while logins kept answering, want none", n)
	}
	waitFor(t, "a check once logins stop", func() bool { return b.checks.Load() > 0 })
	if s, _ := c.lookup("legacy"); !s.Healthy || s.Checked.IsZero() {
		t.Errorf("status %+v", s)
	}
}
