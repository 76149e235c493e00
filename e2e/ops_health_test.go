package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/health"
	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/session"
)

// opsGate is popgate in front of one legacy backend with its admin
// endpoints on a free port and the given health check interval.
type opsGate struct {
	*relayGate
	admin string
}

func startOpsGate(t *testing.T, name, addr string, interval time.Duration) *opsGate {
	t.Helper()
	g := startRelay(t, "BACKENDS="+name+"="+legacyURL(addr), "DEFAULT_BACKEND="+name,
		"ADMIN_LISTEN=127.0.0.1:0", "HEALTH_INTERVAL="+interval.String(), "HEALTH_TIMEOUT=2s")
	return &opsGate{relayGate: g, admin: "http://" + g.Admin}
}

// get returns the status and body of an admin endpoint.
func (g *opsGate) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(g.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of one exposed series, such as
// popgate_logins_total{backend="legacy",outcome="ok"}, or -1.
func (g *opsGate) metric(t *testing.T, series string) float64 {
	t.Helper()
	_, body := g.get(t, "/metrics")
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("bad value in %q", line)
			}
			return v
		}
	}
	return -1
}

// TestMetricsAndHealthWithDovecot fetches mail with Python's poplib through
// popgate from a real Dovecot, checks the metrics moved, then stops
// Dovecot: within the health interval /readyz names it (staying 200: a
// down legacy backend alone does not make the instance unready) and a login
// is refused with [SYS/TEMP] by the health check rather than by a dial.
func TestMetricsAndHealthWithDovecot(t *testing.T) {
	t.Parallel()
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{
		Users: []testpeer.User{{Name: "alice", Password: "pw", Mbox: testpeer.SimpleMbox(3)}},
	})
	g := startOpsGate(t, "legacy", dovecot.Addr, 100*time.Millisecond)
	pop3test.Eventually(t, "ready", func() bool { code, _ := g.get(t, "/readyz"); return code == http.StatusOK })

	msgs := testpeer.Poplib(t, g.Addr, "alice", "pw")
	if len(msgs) != 3 {
		t.Fatalf("poplib fetched %d messages", len(msgs))
	}
	pop3test.Eventually(t, "the session counted", func() bool {
		return g.metric(t, `popgate_sessions_total{backend="legacy",result="ok"}`) == 1
	})
	for series, want := range map[string]float64{
		`popgate_logins_total{backend="legacy",outcome="ok"}`:                     1,
		`popgate_retr_messages_total{backend="legacy"}`:                           3,
		`popgate_backend_up{backend="legacy"}`:                                    1,
		`popgate_backend_open_seconds_count{backend="legacy"}`:                    1,
		`popgate_backend_response_seconds_count{backend="legacy",command="retr"}`: 3,
	} {
		if got := g.metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := g.metric(t, `popgate_retr_bytes_total{backend="legacy"}`); got <= 0 {
		t.Errorf("retr_bytes = %v", got)
	}

	dovecot.Stop()
	pop3test.Eventually(t, "/readyz to name the backend", func() bool {
		_, body := g.get(t, "/readyz")
		return strings.Contains(body, `"unhealthy":["legacy"]`)
	})
	code, body := g.get(t, "/readyz")
	var r struct {
		Ready     bool
		Unhealthy []string
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != http.StatusOK || !r.Ready || len(r.Unhealthy) != 1 || r.Unhealthy[0] != "legacy" {
		t.Errorf("/readyz with the legacy backend down: %d %s; want 200 naming it", code, body)
	}

	rc := testpeer.Dial(t, g.Addr)
	rc.Expect("USER alice", "")
	if got := rc.Expect("PASS pw", ""); !strings.HasPrefix(got, "-ERR [SYS/TEMP]") {
		t.Errorf("login with Dovecot down: %q", got)
	}
	rc.Close()
	lines := g.sessionLines(t, 2)
	last := lines[len(lines)-1]
	if errText, _ := last["error"].(string); last["result"] != session.ResultBackendError || !strings.Contains(errText, health.ErrUnavailable.Error()) {
		t.Errorf("the refused session's line: %v", last)
	}
	if got := g.metric(t, `popgate_logins_total{backend="legacy",outcome="unavailable"}`); got != 1 {
		t.Errorf("unavailable logins = %v", got)
	}
	if got := g.metric(t, `popgate_backend_up{backend="legacy"}`); got != 0 {
		t.Errorf("backend_up = %v", got)
	}
}
