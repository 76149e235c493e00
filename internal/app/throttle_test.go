package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/loadgen"
)

// hogAndCalm writes the Maildirs of hog (30 messages) and calm (1) under
// dir/mail and returns dir and the variables of a server on them, with
// throttling tuned small: 10 messages polled more often than once a minute
// are too many.
func hogAndCalm(t *testing.T) (dir string, vars []string) {
	t.Helper()
	dir = t.TempDir()
	hogDir := filepath.Join(dir, "mail", "hog", "Maildir")
	if err := loadgen.WriteMaildir(hogDir, "hog", 30, loadgen.Sizes{Min: 200, Max: 400}); err != nil {
		t.Fatal(err)
	}
	mkMaildir(t, filepath.Join(dir, "mail", "calm", "Maildir"), "hello")
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("hog:{PLAIN}pw\ncalm:{PLAIN}pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=native=maildir://" + dir + "/mail/%u/Maildir",
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_THROTTLE_SOFT_MSGS=10",
		"POPGATE_THROTTLE_MIN_POLL_INTERVAL=1m",
		"POPGATE_THROTTLE_DELAY_PER_LEVEL=20ms",
		"POPGATE_THROTTLE_MAX_DELAY=200ms",
	}
}

// TestThrottleSlowsAHogAndForgives runs the server with throttling tuned
// small: a user with a large maildrop who polls back to back gets a penalty
// and a login delay, a user with a small one polling as often does not, an
// operator reads the hog's level with "popgate throttle show", and the hog
// is back to full speed at the first poll after cleaning up.
func TestThrottleSlowsAHogAndForgives(t *testing.T) {
	dir, vars := hogAndCalm(t)
	srv := startServer(t, append(vars,
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0",
		"POPGATE_DATA_DIR="+filepath.Join(dir, "data"),
	), Hooks{})
	addr := srv.addrs.Plain.String()
	for range 3 {
		testpeer.Poplib(t, addr, "hog", "pw")
		testpeer.Poplib(t, addr, "calm", "pw")
	}

	// The operator's view, through the admin listener of the running server.
	code, stdout, stderr := runCmd(t, []string{"ADMIN_LISTEN=" + srv.addrs.Admin.String()}, "throttle", "show", "hog")
	var rep struct {
		Known bool `json:"known"`
		Level int  `json:"level"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &rep) != nil || !rep.Known || rep.Level == 0 {
		t.Errorf("throttle show hog: exit %d, %s%s", code, stdout, stderr)
	}

	// The hog cleans up: every message is deleted.
	testpeer.Poplib(t, addr, "hog", "pw", testpeer.PoplibDelete())
	testpeer.Poplib(t, addr, "hog", "pw")
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}

	var hog, calm []map[string]any
	for _, l := range srv.stdout.Lines(t, "session") {
		switch l["user"] {
		case "hog":
			hog = append(hog, l)
		case "calm":
			calm = append(calm, l)
		}
	}
	if len(hog) != 5 || len(calm) != 3 {
		t.Fatalf("%d hog and %d calm sessions, want 5 and 3", len(hog), len(calm))
	}
	if hog[0]["penalty"] != float64(0) {
		t.Errorf("the hog's first poll was penalised: %v", hog[0])
	}
	for _, l := range hog[1:4] {
		if l["penalty"].(float64) < 1 || l["delay_ms"].(float64) < 20 || !strings.Contains(l["throttle_reason"].(string), "size") {
			t.Errorf("a back-to-back poll of 30 messages was not slowed down: %v", l)
		}
	}
	if l := hog[4]; l["penalty"] != float64(0) || l["delay_ms"] != float64(0) || l["msgs"] != float64(0) {
		t.Errorf("after cleaning up the hog is still penalised: %v", l)
	}
	for _, l := range calm {
		if l["penalty"] != float64(0) || l["delay_ms"] != float64(0) {
			t.Errorf("a small maildrop polled as often was penalised: %v", l)
		}
	}
}
