package e2e

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/app"
	"github.com/popgate/popgate/internal/logtest"
)

// relayGate is popgate serving in this process through internal/app, the
// same wiring as the binary, on a free 127.0.0.1 port; its log is kept for
// the session lines.
type relayGate struct {
	Addr  string
	Admin string // the admin listener, when ADMIN_LISTEN was set
	// DataDir is POPGATE_DATA_DIR, which holds the UIDL map.
	DataDir string

	out, errOut *logtest.Buffer
	reload      chan struct{}
	cancel      context.CancelFunc
	done        chan int
}

// relayDefaults are the variables startRelay sets unless the test does:
// no throttling (tests that want it turn it on), no delay after a failed
// login, a short drain, and a fixed greeting host name.
var relayDefaults = []string{
	"LISTEN=127.0.0.1:0",
	"ADMIN_LISTEN=off",
	"THROTTLE=off",
	"AUTH_FAIL_DELAY=0",
	"DRAIN_TIMEOUT=1s",
	"HOSTNAME=popgate.test",
}

// startRelay runs "popgate serve" with the given POPGATE_ variables (NAME=value,
// prefix omitted) over relayDefaults and a private data directory, and
// stops it at the end of the test.
func startRelay(t testing.TB, vars ...string) *relayGate {
	t.Helper()
	return startRelayWith(t, app.Hooks{}, vars...)
}

// startRelayWith is startRelay with hooks into the server; the listening
// and reload hooks are the gate's own.
func startRelayWith(t testing.TB, h app.Hooks, vars ...string) *relayGate {
	t.Helper()
	g := &relayGate{DataDir: t.TempDir(), out: &logtest.Buffer{}, errOut: &logtest.Buffer{},
		reload: make(chan struct{}), done: make(chan int, 1)}
	set := map[string]string{"DATA_DIR": g.DataDir}
	for _, v := range append(append([]string(nil), relayDefaults...), vars...) {
		k, val, _ := strings.Cut(v, "=")
		set[k] = val
	}
	environ := []string{"HOME=/nonexistent"}
	for k, v := range set {
		environ = append(environ, "POPGATE_"+k+"="+v)
	}
	sort.Strings(environ)

	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	bound := make(chan app.Addrs, 1)
	h.Listening, h.Reload = func(a app.Addrs) { bound <- a }, g.reload
	go func() {
		g.done <- app.RunWithHooks(ctx, []string{"popgate"}, environ, g.out, g.errOut, h)
	}()
	t.Cleanup(func() {
		if code := g.stop(t); code != 0 {
			t.Errorf("popgate exited with %d:\n%s", code, g.errOut.String())
		}
		// Every line the server wrote must decode strictly: JSON, and no
		// key twice (a log pipeline would keep only one of them).
		g.out.All(t)
		if t.Failed() {
			g.logProblems(t)
		}
	})
	select {
	case a := <-bound:
		g.Addr = a.Plain.String()
		if a.Admin != nil {
			g.Admin = a.Admin.String()
		}
	case code := <-g.done:
		g.done <- code
		t.Fatalf("popgate exited with %d:\n%s%s", code, g.errOut.String(), g.out.String())
	case <-time.After(20 * time.Second):
		t.Fatal("popgate did not start")
	}
	return g
}

// stop ends the server and returns its exit code.
func (g *relayGate) stop(t testing.TB) int {
	g.cancel()
	select {
	case code := <-g.done:
		g.done <- code // later calls see it too
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("popgate did not stop")
		return -1
	}
}

// reloadRoutes rereads the routes file, as SIGHUP does.
func (g *relayGate) reloadRoutes() { g.reload <- struct{}{} }

// legacyURL is a POPGATE_BACKENDS URL for a real server at addr.
func legacyURL(addr string) string {
	return "pop3://" + addr + "?dial_timeout=5s&timeout=20s"
}

// mboxURL is a POPGATE_BACKENDS URL for mbox spools in dir, one per user.
func mboxURL(dir string, params ...string) string {
	u := "mbox://" + filepath.Join(dir, "%u")
	if len(params) > 0 {
		u += "?" + strings.Join(params, "&")
	}
	return u
}

// sessionLines waits until n session lines were logged and returns them.
func (g *relayGate) sessionLines(t testing.TB, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := g.out.Lines(t, "session")
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d session lines logged, want %d", len(lines), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logProblems copies the server's warnings and errors to the test log.
func (g *relayGate) logProblems(t testing.TB) {
	for line := range strings.Lines(g.out.String()) {
		if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
			t.Log(strings.TrimRight(line, "\n"))
		}
	}
}
