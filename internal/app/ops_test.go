package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
)

// scrape fetches /metrics from the admin address and returns each series
// ("name{a="x",b="y"}" exactly as exposed) with its value.
func scrape(t *testing.T, admin net.Addr) map[string]float64 {
	t.Helper()
	body, code := adminGet(t, admin, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	out := map[string]float64{}
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
		if err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func adminGet(t *testing.T, admin net.Addr, path string) (string, int) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + admin.String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}

// TestMetricsMoveDuringRealSessions logs in through a running server and
// checks that /metrics counted what happened, and that /healthz and
// /readyz answer.
func TestMetricsMoveDuringRealSessions(t *testing.T) {
	dir := t.TempDir()
	mkMaildir(t, filepath.Join(dir, "old", "alice"), "from old")
	users := filepath.Join(dir, "users")
	routesFile := filepath.Join(dir, "routes")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(routesFile, []byte("alice old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{})
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=old=maildir://" + dir + "/old/%u",
		"POPGATE_ROUTES=" + routesFile,
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"POPGATE_AUTH_FAIL_DELAY=0s",
	}, Hooks{Reload: reload})
	admin := srv.addrs.Admin
	if admin == nil {
		t.Fatal("no admin address")
	}

	if got := pop3Subject(t, srv.addrs.Plain.String()); got != "from old" {
		t.Fatalf("subject %q", got)
	}
	refused := loginOnce(t, srv.addrs.Plain.String(), "alice", "wrong")
	if !strings.HasPrefix(refused, "-ERR [AUTH]") {
		t.Errorf("wrong password: %q", refused)
	}
	if got := scrape(t, admin)[`popgate_routes_last_reload_successful`]; got != 1 {
		t.Errorf("routes_last_reload_successful = %v after the routes loaded at start, want 1", got)
	}
	reload <- struct{}{}
	pop3test.Eventually(t, "a good reload counted", func() bool {
		return scrape(t, admin)[`popgate_routes_reloads_total{result="ok"}`] == 1
	})
	// The bad file may be seen by the file watcher before the signal;
	// either way, reloads fail and the count says so.
	if err := os.WriteFile(routesFile, []byte("alice nosuchbackend\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}

	var m map[string]float64
	pop3test.Eventually(t, "both sessions and the failed reload counted", func() bool {
		m = scrape(t, admin)
		return m[`popgate_sessions_total{backend="old",result="ok"}`] == 1 &&
			m[`popgate_sessions_total{backend="old",result="auth_failed"}`] == 1 &&
			m[`popgate_routes_reloads_total{result="failed"}`] >= 1
	}, func() string { return fmt.Sprint(m) })
	if m[`popgate_routes_last_reload_successful`] != 0 {
		t.Errorf("routes_last_reload_successful = %v after a failed reload, want 0", m[`popgate_routes_last_reload_successful`])
	}
	if m[`popgate_build_info{goversion="`+runtime.Version()+`",version="`+version()+`"}`] != 1 {
		t.Errorf("no build_info for version %q", version())
	}
	for series, want := range map[string]float64{
		`popgate_logins_total{backend="old",outcome="ok"}`:                       1,
		`popgate_logins_total{backend="old",outcome="auth_failed"}`:              1,
		`popgate_retr_messages_total{backend="old"}`:                             1,
		`popgate_backend_open_seconds_count{backend="old"}`:                      2,
		`popgate_backend_response_seconds_count{backend="old",command="retr"}`:   1,
		`popgate_backend_response_seconds_count{backend="old",command="update"}`: 1,
		`popgate_active_sessions`:                                                0,
		`popgate_routes_reloads_total{result="ok"}`:                              1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if m[`popgate_retr_bytes_total{backend="old"}`] < 40 {
		t.Errorf("retr_bytes = %v", m[`popgate_retr_bytes_total{backend="old"}`])
	}

	// A session that is open counts as active.
	c := testpeer.Dial(t, srv.addrs.Plain.String())
	if got := scrape(t, admin)[`popgate_active_sessions`]; got != 1 {
		t.Errorf("active sessions with one open = %v", got)
	}
	c.Close()

	if body, code := adminGet(t, admin, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	body, code := adminGet(t, admin, "/readyz")
	var r struct {
		Ready, Listening bool
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != http.StatusOK || !r.Ready || !r.Listening {
		t.Errorf("/readyz: %d %s", code, body)
	}
}

// loginOnce tries USER/PASS and returns the answer to PASS.
func loginOnce(t *testing.T, addr, user, pass string) string {
	t.Helper()
	rc := testpeer.Dial(t, addr)
	defer rc.Close()
	rc.Expect("USER "+user, "")
	answer := rc.Expect("PASS "+pass, "")
	rc.Send("QUIT")
	return answer
}

// startFakeLegacy serves a minimal RFC 1939 server on addr that accepts
// any password and serves an empty maildrop, until it is closed.
func startFakeLegacy(t *testing.T, addr string) *pop3test.Server {
	t.Helper()
	return pop3test.StartAt(t, addr, (&pop3test.Script{
		Greeting: pop3test.Lines("+OK fake ready"),
		Replies: map[string]pop3test.Reply{
			"USER": pop3test.Lines("+OK"),
			"PASS": pop3test.Lines("+OK"),
			"NOOP": pop3test.Lines("+OK"),
			"STAT": pop3test.Lines("+OK 0 0"),
			"QUIT": {Text: "+OK bye\r\n", Close: true},
		},
	}).Serve)
}

// TestUnhealthyBackendFailsFast stops a legacy backend: within the health
// interval /readyz (strict) names it and logins get [SYS/TEMP] at once;
// when it is back, both recover.
func TestUnhealthyBackendFailsFast(t *testing.T) {
	fake := startFakeLegacy(t, "127.0.0.1:0")
	legacyAddr := fake.Addr
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=legacy=pop3://" + legacyAddr + "?dial_timeout=5s",
		"POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_HEALTH_INTERVAL=50ms",
		"POPGATE_HEALTH_TIMEOUT=1s",
		"POPGATE_HEALTH_STRICT=true",
	}, Hooks{})
	pop := srv.addrs.Plain.String()
	ready := func() (bool, string) {
		body, code := adminGet(t, srv.addrs.Admin, "/readyz")
		return code == http.StatusOK, body
	}
	pop3test.Eventually(t, "ready", func() bool { ok, _ := ready(); return ok })
	if got := loginOnce(t, pop, "alice", "pw"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("login with the backend up: %q", got)
	}

	fake.Close()
	pop3test.Eventually(t, "/readyz to turn 503", func() bool { ok, _ := ready(); return !ok })
	if _, body := ready(); !strings.Contains(body, `"unhealthy":["legacy"]`) {
		t.Errorf("/readyz body does not name the backend: %s", body)
	}
	if got := loginOnce(t, pop, "alice", "pw"); !strings.HasPrefix(got, "-ERR [SYS/TEMP]") {
		t.Errorf("login with the backend down: %q", got)
	}
	m := scrape(t, srv.addrs.Admin)
	if m[`popgate_logins_total{backend="legacy",outcome="unavailable"}`] != 1 || m[`popgate_backend_up{backend="legacy"}`] != 0 {
		t.Errorf("metrics do not show the outage: unavailable=%v up=%v",
			m[`popgate_logins_total{backend="legacy",outcome="unavailable"}`], m[`popgate_backend_up{backend="legacy"}`])
	}
	pop3test.Eventually(t, "the refused session's line", func() bool {
		for _, l := range srv.stdout.Lines(t, "session") {
			if l["result"] == "backend_error" {
				return strings.Contains(l["error"].(string), "legacy") && strings.Contains(l["error"].(string), "health check")
			}
		}
		return false
	}, srv.stdout.String)

	startFakeLegacy(t, legacyAddr)
	pop3test.Eventually(t, "/readyz to recover", func() bool { ok, _ := ready(); return ok })
	if got := loginOnce(t, pop, "alice", "pw"); !strings.HasPrefix(got, "+OK") {
		t.Errorf("login after recovery: %q", got)
	}
}

// TestTwoServersShareAPort starts a second server on the first one's port,
// as an upgrade does before stopping the old process: SO_REUSEPORT lets
// it bind, and after the first one stops, the second serves alone.
func TestTwoServersShareAPort(t *testing.T) {
	fake := startFakeLegacy(t, "127.0.0.1:0")
	env := func(listen, admin string) []string {
		return []string{
			"POPGATE_LISTEN=" + listen,
			"POPGATE_ADMIN_LISTEN=" + admin,
			"POPGATE_BACKENDS=legacy=pop3://" + fake.Addr,
			"POPGATE_DATA_DIR=" + t.TempDir(),
			"POPGATE_AUTH_FAIL_DELAY=0s",
		}
	}
	first := startServer(t, env("127.0.0.1:0", "127.0.0.1:0"), Hooks{})
	pop, admin := first.addrs.Plain.String(), first.addrs.Admin.String()
	second := startServer(t, env(pop, admin), Hooks{})
	if second.addrs.Plain.String() != pop || second.addrs.Admin.String() != admin {
		t.Fatalf("second server on %v and %v, want %s and %s", second.addrs.Plain, second.addrs.Admin, pop, admin)
	}
	if code := first.stop(t); code != exitOK {
		t.Fatalf("first server exit %d", code)
	}
	for range 5 {
		if got := loginOnce(t, pop, "alice", "pw"); !strings.HasPrefix(got, "+OK") {
			t.Fatalf("login after the first server stopped: %q", got)
		}
	}
	pop3test.Eventually(t, "the second server's five session lines", func() bool {
		return len(second.stdout.Lines(t, "session")) == 5
	})
}

func TestListenersFromSocketActivation(t *testing.T) {
	cfg := config.Config{Listen: "127.0.0.1:1110", ListenTLS: "0.0.0.0:1995", AdminListen: "127.0.0.1:9110"}
	for _, c := range []struct {
		addr string
		want string
	}{
		{"127.0.0.1:1110", rolePlain},
		{"127.0.0.2:1110", ""},
		{"10.1.2.3:1995", roleTLS},
		{"127.0.0.1:9110", roleAdmin},
		{"127.0.0.1:110", ""},
	} {
		a, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := roleByAddress(cfg, a); got != c.want {
			t.Errorf("%s: role %q, want %q", c.addr, got, c.want)
		}
	}
	// Variables meant for another process are ignored.
	ls, err := activationListeners([]string{"LISTEN_PID=1", "LISTEN_FDS=3"})
	if err != nil || ls != nil {
		t.Errorf("foreign LISTEN_PID: %v %v", ls, err)
	}
	if _, err := activationListeners([]string{"LISTEN_PID=" + strconv.Itoa(os.Getpid()), "LISTEN_FDS=x"}); err == nil {
		t.Error("a bad LISTEN_FDS was accepted")
	}
}

func TestHealthSubcommand(t *testing.T) {
	fake := startFakeLegacy(t, "127.0.0.1:0")
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=legacy=pop3://" + fake.Addr,
		"POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_HEALTH_INTERVAL=50ms",
		"POPGATE_HEALTH_STRICT=true",
	}, Hooks{})
	_, port, _ := net.SplitHostPort(srv.addrs.Admin.String())
	// The server's own configuration, as a container health check sees it.
	vars := []string{"ADMIN_LISTEN=0.0.0.0:" + port}
	pop3test.Eventually(t, "ready", func() bool { code, _, _ := runCmd(t, vars, "health", "ready"); return code == exitOK })
	if code, out, _ := runCmd(t, vars, "health"); code != exitOK || out != "ok\n" {
		t.Errorf("health: %d %q", code, out)
	}
	fake.Close()
	pop3test.Eventually(t, "not ready", func() bool { code, _, _ := runCmd(t, vars, "health", "ready"); return code == exitFailure })
	if code, _, _ := runCmd(t, vars, "health"); code != exitOK {
		t.Errorf("alive while a backend is down: exit %d", code)
	}
	if code, _, _ := runCmd(t, []string{"ADMIN_LISTEN=off"}, "health"); code != exitUsage {
		t.Errorf("admin off: exit %d", code)
	}
}

func TestWatchThrottleExportsQueues(t *testing.T) {
	o := newOperations(config.Config{}, zap.NewNop())
	waiting := map[string]int{"legacy": 3, "native": 0}
	o.watchThrottle([]string{"legacy", "native"}, func(b string) (int, int) { return 1, waiting[b] })
	srv := httptest.NewServer(o.Mux)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`popgate_throttle_queue_length{backend="legacy"} 3`, `popgate_throttle_queue_length{backend="native"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestSessionLinesReachSyslog serves one session with POPGATE_SYSLOG set to
// a UDP socket of the test and finds its session line there.
func TestSessionLinesReachSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	fake := startFakeLegacy(t, "127.0.0.1:0")
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_ADMIN_LISTEN=off",
		"POPGATE_BACKENDS=legacy=pop3://" + fake.Addr,
		"POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_SYSLOG=udp://" + pc.LocalAddr().String(),
	}, Hooks{})
	if got := loginOnce(t, srv.addrs.Plain.String(), "alice", "pw"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("login: %q", got)
	}
	msgs := syslogUntilSession(t, pc)
	msg := msgs[len(msgs)-1]
	if !strings.HasPrefix(msg, "<22>1 ") || !strings.Contains(msg, `"user":"alice"`) || !strings.Contains(msg, `"backend":"legacy"`) {
		t.Errorf("session line by syslog: %q", msg)
	}
}

// syslogUntilSession reads syslog messages from pc up to the first session
// line and returns them, the session line last.
func syslogUntilSession(t *testing.T, pc net.PacketConn) []string {
	t.Helper()
	var msgs []string
	buf := make([]byte, 65536)
	for {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no session line by syslog: %v", err)
		}
		msgs = append(msgs, string(buf[:n]))
		if strings.Contains(msgs[len(msgs)-1], " popgate ") && strings.Contains(msgs[len(msgs)-1], " session - {") {
			return msgs
		}
	}
}

// Under systemd with POPGATE_SYSLOG=unix:///dev/log, standard output and
// the syslog socket both end in the journal: popgate then writes each line
// to the socket only.
func TestJournalGetsEachLineOnce(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(out.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	fake := startFakeLegacy(t, "127.0.0.1:0")
	environ := []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_ADMIN_LISTEN=off",
		"POPGATE_BACKENDS=legacy=pop3://" + fake.Addr,
		"POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_SYSLOG=unix://" + sock,
		fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	bound := make(chan Addrs, 1)
	go func() {
		done <- RunWithHooks(ctx, []string{"popgate"}, environ, out, io.Discard, Hooks{Listening: func(a Addrs) { bound <- a }})
	}()
	defer func() { cancel(); <-done }()
	var addrs Addrs
	select {
	case addrs = <-bound:
	case <-done:
		t.Fatal("popgate exited")
	case <-time.After(20 * time.Second):
		t.Fatal("popgate did not start")
	}
	if got := loginOnce(t, addrs.Plain.String(), "alice", "pw"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("login: %q", got)
	}
	sawSyslogOnly := false
	for _, msg := range syslogUntilSession(t, pc) {
		sawSyslogOnly = sawSyslogOnly || strings.Contains(msg, "logging to syslog only")
	}
	if !sawSyslogOnly {
		t.Error("popgate did not say that it logs to syslog only")
	}
	if b, _ := os.ReadFile(out.Name()); len(b) != 0 {
		t.Errorf("standard output, the journal, got the lines too: %s", b)
	}
}
