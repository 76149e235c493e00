package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// TestServeRelaysToDovecot puts the binary's wiring in front of a real
// Dovecot through a pop3:// backend URL with options: a client gets the
// same messages and UIDLs through popgate as directly.
func TestServeRelaysToDovecot(t *testing.T) {
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{
		Users: []testpeer.User{{Name: "rachel", Password: "s3cret", Mbox: testpeer.TrickyMbox()}},
	})
	direct := testpeer.Poplib(t, dovecot.Addr, "rachel", "s3cret")
	if len(direct) == 0 {
		t.Fatal("Dovecot served no messages")
	}

	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + "?max_sessions=4&timeout=20s&dial_timeout=5s",
		"POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_ADMIN_LISTEN=off",
	}, Hooks{})
	via := testpeer.Poplib(t, srv.addrs.Plain.String(), "rachel", "s3cret")
	if len(via) != len(direct) {
		t.Fatalf("%d messages through popgate, %d directly", len(via), len(direct))
	}
	for i := range direct {
		if via[i].UIDL != direct[i].UIDL || !bytes.Equal(via[i].Body, direct[i].Body) {
			t.Errorf("message %d differs: UIDL %q vs %q, %d vs %d bytes",
				i+1, via[i].UIDL, direct[i].UIDL, len(via[i].Body), len(direct[i].Body))
		}
	}
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := srv.stdout.Lines(t, "session")
	if len(lines) != 1 || lines[0]["backend"] != "legacy" || lines[0]["result"] != "ok" {
		t.Errorf("session lines: %v", lines)
	}
}

// TestDelegatedPasswords moves a user to a native Maildir before their
// password: with auth_backend=legacy and no entry in the users file, the
// password is checked by logging in to the real Dovecot, whose refusal is
// the client's refusal. A user listed in the users file is decided by the
// file alone.
func TestDelegatedPasswords(t *testing.T) {
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{
		{Name: "rachel", Password: "legacy-pw", Mbox: testpeer.SimpleMbox(1)},
		{Name: "bob", Password: "old-bob-pw", Mbox: testpeer.SimpleMbox(1)},
	}})
	data := t.TempDir()
	mkMaildir(t, filepath.Join(data, "mail", "rachel", "Maildir"), "moved before her password")
	mkMaildir(t, filepath.Join(data, "mail", "bob", "Maildir"), "bob has a new password")
	users := filepath.Join(data, "users")
	if err := os.WriteFile(users, []byte("bob:{PLAIN}new-bob-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + ",native=maildir://" + data + "/mail/%u/Maildir?auth_backend=legacy",
		"POPGATE_DEFAULT_BACKEND=native",
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_DATA_DIR=" + data,
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_ADMIN_LISTEN=off",
	}, Hooks{})
	addr := srv.addrs.Plain.String()

	msgs := testpeer.Poplib(t, addr, "rachel", "legacy-pw")
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Body, []byte("moved before her password")) {
		t.Fatalf("rachel got %d messages from the native Maildir, want her 1", len(msgs))
	}
	for _, c := range []struct{ user, pass string }{{"rachel", "wrong"}, {"bob", "old-bob-pw"}} {
		if _, err := testpeer.NewPoplib(t, addr, c.user, c.pass).TryPoll(); err == nil {
			t.Errorf("%s logged in with %q", c.user, c.pass)
		}
	}
	if msgs := testpeer.Poplib(t, addr, "bob", "new-bob-pw"); len(msgs) != 1 {
		t.Errorf("bob got %d messages with his new password", len(msgs))
	}
	stopAndCheckResults(t, srv, map[string]int{"rachel ok": 1, "rachel auth_failed": 1, "bob auth_failed": 1, "bob ok": 1})
}

// stopAndCheckResults stops srv and compares its session lines, counted by
// "user result", with want.
func stopAndCheckResults(t *testing.T, srv *server, want map[string]int) {
	t.Helper()
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	results := map[string]int{}
	for _, l := range srv.stdout.Lines(t, "session") {
		results[l["user"].(string)+" "+l["result"].(string)]++
	}
	for k, n := range want {
		if results[k] != n {
			t.Errorf("session results %v, want %v", results, want)
			break
		}
	}
}

func TestCheckConfigAuthBackendMustBeLegacy(t *testing.T) {
	code, stdout, stderr := runCmd(t, []string{
		"BACKENDS=a=maildir:///srv/%u,b=maildir:///srv2/%u?auth_backend=a",
		"DEFAULT_BACKEND=a",
		"DATA_DIR=" + t.TempDir(),
	}, "check-config")
	if code != exitUsage || !strings.Contains(stdout+stderr, `auth_backend "a" is not a pop3://`) {
		t.Errorf("check-config exit %d, output:\n%s%s", code, stdout, stderr)
	}
}

// TestMaxSessionsWithThrottleOff: a pop3:// backend's max_sessions holds
// with POPGATE_THROTTLE=off too. While one session is open on a backend
// limited to one, another user's login waits for the slot and is refused
// with [SYS/TEMP] after POPGATE_THROTTLE_QUEUE_TIMEOUT; once the first
// session has ended, the login goes through.
func TestMaxSessionsWithThrottleOff(t *testing.T) {
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{
		{Name: "rachel", Password: "s3cret", Mbox: testpeer.SimpleMbox(1)},
		{Name: "bob", Password: "hunter2", Mbox: testpeer.SimpleMbox(1)},
	}})
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + "?max_sessions=1&timeout=20s",
		"POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_ADMIN_LISTEN=off",
		"POPGATE_THROTTLE=off",
		"POPGATE_THROTTLE_QUEUE_TIMEOUT=300ms",
	}, Hooks{})
	addr := srv.addrs.Plain.String()

	holder := testpeer.DialRaw(t, addr, "rachel", "s3cret")
	if _, err := testpeer.NewPoplib(t, addr, "bob", "hunter2").TryPoll(); err == nil || !strings.Contains(err.Error(), "SYS/TEMP") {
		t.Errorf("second session on a backend with max_sessions=1: %v, want [SYS/TEMP]", err)
	}
	holder.Quit()
	if msgs := testpeer.Poplib(t, addr, "bob", "hunter2"); len(msgs) != 1 {
		t.Errorf("bob got %d messages once the slot was free, want 1", len(msgs))
	}
	stopAndCheckResults(t, srv, map[string]int{"rachel ok": 1, "bob throttled": 1, "bob ok": 1})
}
