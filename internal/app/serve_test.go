package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/popgate/popgate/internal/logtest"
	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
)

// server is popgate running in the test through RunWithHooks.
type server struct {
	addrs          Addrs
	stdout, stderr *logtest.Buffer
	cancel         context.CancelFunc
	done           chan int
}

// startServer runs serve with environ (full variable names) and waits until
// it listens. The server is stopped at the end of the test if stop was not
// called.
func startServer(t *testing.T, environ []string, h Hooks) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &logtest.Buffer{}, stderr: &logtest.Buffer{}, cancel: cancel, done: make(chan int, 1)}
	bound := make(chan Addrs, 1)
	h.Listening = func(a Addrs) { bound <- a }
	go func() { s.done <- RunWithHooks(ctx, []string{"popgate"}, environ, s.stdout, s.stderr, h) }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.addrs = <-bound:
	case code := <-s.done:
		s.done <- code
		t.Fatalf("run exited with %d:\n%s%s", code, s.stderr.String(), s.stdout.String())
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not start")
	}
	return s
}

// stop cancels the server's context and returns its exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // later calls see it too
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
		return -1
	}
}

// mkMaildir creates a Maildir holding one message with the given subject.
func mkMaildir(t *testing.T, dir, subject string) {
	t.Helper()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	msg := "From: a@example.org\nSubject: " + subject + "\n\nhello\n"
	if err := os.WriteFile(filepath.Join(dir, "new", "1.m1.host"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pop3Subject logs in as alice and returns the Subject of message 1.
func pop3Subject(t *testing.T, addr string) string {
	t.Helper()
	return subjectOf(t, testpeer.Dial(t, addr))
}

// TestServeEndToEnd runs the server with two native backends, moves alice
// from one to the other by editing the routes file and reloading, and
// shuts down through the context.
func TestServeEndToEnd(t *testing.T) {
	// Everything run starts must be gone once it returns.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	mkMaildir(t, filepath.Join(dir, "old", "alice"), "from old")
	mkMaildir(t, filepath.Join(dir, "new", "alice"), "from new")
	users := filepath.Join(dir, "users")
	routesFile := filepath.Join(dir, "routes")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeRoutes := func(text string) {
		tmp := routesFile + ".new"
		if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, routesFile); err != nil {
			t.Fatal(err)
		}
	}
	writeRoutes("alice old\n")

	environ := []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=old=maildir://" + dir + "/old/%u,new=maildir://" + dir + "/new/%u",
		"POPGATE_DEFAULT_BACKEND=new",
		"POPGATE_ROUTES=" + routesFile,
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_DRAIN_TIMEOUT=5s",
	}
	reload := make(chan struct{})
	srv := startServer(t, environ, Hooks{Reload: reload})
	addrs, stdout, stderr := srv.addrs, srv.stdout, srv.stderr
	if addrs.TLS != nil {
		t.Errorf("a TLS listener was opened: %v", addrs.TLS)
	}
	addr := addrs.Plain.String()
	if !strings.Contains(stderr.String(), "curl -u USER:PASSWORD pop3://"+addr+"/1") {
		t.Errorf("no connection hint on stderr: %q", stderr.String())
	}

	if got := pop3Subject(t, addr); got != "from old" {
		t.Errorf("before the move alice reads %q", got)
	}
	writeRoutes("# wave 1 done\nalice new\n")
	reload <- struct{}{}
	// The reload is done once the log says so.
	waitLog(t, stdout, "routes reloaded", "file", routesFile)
	if got := pop3Subject(t, addr); got != "from new" {
		t.Errorf("after the move alice reads %q", got)
	}

	if code := srv.stop(t); code != exitOK {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}

	rl := stdout.Lines(t, "routes reloaded")[0]
	if rl["moved"] != float64(1) || !strings.Contains(rl["changes"].(string), "alice old->new") {
		t.Errorf("reload line = %v", rl)
	}
	sessions := stdout.Lines(t, "session")
	if len(sessions) != 2 {
		t.Fatalf("%d session lines, want 2:\n%s", len(sessions), stdout.String())
	}
	for i, want := range []string{"old", "new"} {
		if s := sessions[i]; s["backend"] != want || s["user"] != "alice" || s["result"] != "ok" {
			t.Errorf("session %d = %v, want backend %s", i, s, want)
		}
	}
	if strings.Contains(stdout.String(), "secret") {
		t.Error("the password appears in the log")
	}
	if len(stdout.Lines(t, "popgate stopped")) != 1 {
		t.Errorf("no clean stop logged:\n%s", stdout.String())
	}
}

// TestServeEmbeddedDefault runs popgate with no configuration but a
// temporary data directory and a free port: it seeds the demo user, says how
// to connect, and serves the demo maildrop.
func TestServeEmbeddedDefault(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "popgate-data")
	environ := []string{"POPGATE_LISTEN=127.0.0.1:0", "POPGATE_DATA_DIR=" + dataDir}
	srv := startServer(t, environ, Hooks{})
	addr, stderr := srv.addrs.Plain.String(), srv.stderr
	if !strings.Contains(stderr.String(), "curl -u demo:demo pop3://"+addr+"/1") {
		t.Errorf("no demo hint on stderr:\n%s", stderr.String())
	}

	rc := testpeer.DialRaw(t, addr, "demo", "demo")
	stat := rc.OK("STAT")
	rc.Quit()
	var n, size int
	if _, err := fmt.Sscanf(stat, "%d %d", &n, &size); err != nil || n == 0 || size == 0 {
		t.Errorf("STAT = %q; want a non-empty demo maildrop", stat)
	}
	if code := srv.stop(t); code != exitOK {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}
}

// waitLog waits until the log has a line with message msg and the field
// key set to value, and returns it.
func waitLog(t *testing.T, b *logtest.Buffer, msg, key, value string) map[string]any {
	t.Helper()
	var found map[string]any
	pop3test.Eventually(t, fmt.Sprintf("a %q line", msg), func() bool {
		for _, l := range b.Lines(t, msg) {
			if l[key] == value {
				found = l
				return true
			}
		}
		return false
	}, b.String)
	return found
}

// TestSIGHUPWithABadRoutesFile sends a real SIGHUP: the bad file is
// reported with its line number and the previous table stays in force.
func TestSIGHUPWithABadRoutesFile(t *testing.T) {
	dir := t.TempDir()
	mkMaildir(t, filepath.Join(dir, "old", "alice"), "from old")
	mkMaildir(t, filepath.Join(dir, "new", "alice"), "from new")
	users := filepath.Join(dir, "users")
	routesFile := filepath.Join(dir, "routes")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(routesFile, []byte("alice old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=old=maildir://" + dir + "/old/%u,new=maildir://" + dir + "/new/%u",
		"POPGATE_DEFAULT_BACKEND=new",
		"POPGATE_ROUTES=" + routesFile,
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
	}, Hooks{})
	if err := os.WriteFile(routesFile, []byte("# oops\nalice new\nbob elsewhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := waitLog(t, srv.stdout, "routes reload failed; keeping the previous table", "cause", "SIGHUP")
	if e, _ := line["error"].(string); !strings.Contains(e, routesFile+`:3: unknown backend "elsewhere"`) {
		t.Errorf("error = %q", e)
	}
	if got := pop3Subject(t, srv.addrs.Plain.String()); got != "from old" {
		t.Errorf("after a bad reload alice reads %q", got)
	}
}
