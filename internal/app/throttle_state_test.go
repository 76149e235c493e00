package app

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// throttleReport runs "popgate throttle VERB USER" and decodes its report.
func throttleReport(t *testing.T, vars []string, verb, user string) (known bool, level int) {
	t.Helper()
	code, stdout, stderr := runCmd(t, vars, "throttle", verb, user)
	var rep struct {
		Known bool `json:"known"`
		Level int  `json:"level"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &rep) != nil {
		t.Fatalf("throttle %s %s: exit %d, %s%s", verb, user, code, stdout, stderr)
	}
	return rep.Known, rep.Level
}

// guessPassword fails to log in as user n times.
func guessPassword(t *testing.T, addr, user string, n int) {
	t.Helper()
	for range n {
		if answer := loginOnce(t, addr, user, "wrong"); !strings.HasPrefix(answer, "-ERR") {
			t.Fatalf("wrong password answered %q", answer)
		}
	}
}

// TestThrottleStateSurvivesRestart stops and starts the server on the same
// bbolt store: the hog's level and a guesser's failed logins are still
// known, and "throttle reset" through the admin listener forgets them.
func TestThrottleStateSurvivesRestart(t *testing.T) {
	dir, vars := hogAndCalm(t)
	vars = append(vars,
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0",
		"POPGATE_DATA_DIR="+filepath.Join(dir, "data"),
		"POPGATE_THROTTLE_AUTH_FAIL_LIMIT=3",
		"POPGATE_THROTTLE_AUTH_FAIL_DELAY=10ms",
	)
	srv := startServer(t, vars, Hooks{})
	for range 3 {
		testpeer.Poplib(t, srv.addrs.Plain.String(), "hog", "pw")
	}
	guessPassword(t, srv.addrs.Plain.String(), "calm", 3)
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}

	srv = startServer(t, vars, Hooks{})
	admin := []string{"ADMIN_LISTEN=" + srv.addrs.Admin.String()}
	if known, level := throttleReport(t, admin, "show", "hog"); !known || level == 0 {
		t.Errorf("after a restart: hog known %v at level %d; want its penalty", known, level)
	}
	if answer := loginOnce(t, srv.addrs.Plain.String(), "calm", "pw"); !strings.HasPrefix(answer, "-ERR") {
		t.Errorf("after a restart the guessed user logged in from the guessing client: %q", answer)
	}
	if known, level := throttleReport(t, admin, "reset", "hog"); known || level != 0 {
		t.Errorf("after reset: hog known %v at level %d", known, level)
	}
	throttleReport(t, admin, "reset", "calm")
	if answer := loginOnce(t, srv.addrs.Plain.String(), "calm", "pw"); !strings.HasPrefix(answer, "+OK") {
		t.Errorf("after reset the user's login was refused: %q", answer)
	}
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
}

// TestThrottleSharedThroughRedis penalises a hog on one instance and finds
// it penalised on the other; "throttle show|reset" use Redis directly.
func TestThrottleSharedThroughRedis(t *testing.T) {
	rdb := testpeer.StartRedis(t)
	dir, vars := hogAndCalm(t)
	vars = append(vars, "POPGATE_STORE="+rdb.URL(0), "POPGATE_ADMIN_LISTEN=off")
	first := startServer(t, append(vars, "POPGATE_DATA_DIR="+filepath.Join(dir, "one")), Hooks{})
	second := startServer(t, append(vars, "POPGATE_DATA_DIR="+filepath.Join(dir, "two")), Hooks{})
	for range 2 {
		testpeer.Poplib(t, first.addrs.Plain.String(), "hog", "pw")
	}
	testpeer.Poplib(t, second.addrs.Plain.String(), "hog", "pw")

	var cmdVars []string
	for _, v := range vars {
		cmdVars = append(cmdVars, strings.TrimPrefix(v, "POPGATE_"))
	}
	if known, level := throttleReport(t, cmdVars, "show", "hog"); !known || level == 0 {
		t.Errorf("throttle show: hog known %v at level %d; want its penalty", known, level)
	}
	if known, _ := throttleReport(t, cmdVars, "reset", "hog"); known {
		t.Error("throttle reset: the hog is still known")
	}
	for _, s := range []*server{first, second} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("exit %d", code)
		}
	}
	lines := second.stdout.Lines(t, "session")
	if len(lines) != 1 || lines[0]["penalty"].(float64) < 1 {
		t.Errorf("the hog's poll on the second instance: %v; want penalised", lines)
	}
}
