package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The qpopper guide's step 2 without a users file and without auth_backend:
// a native backend that could check no password. check-config and serve
// must refuse it alike, with the exit status for a bad configuration (a
// status 1 would loop under Restart=on-failure).
func TestMissingUsersFileIsAConfigurationError(t *testing.T) {
	dir := t.TempDir()
	env := []string{
		"BACKENDS=legacy=pop3://127.0.0.1:1100,native=mbox://" + dir + "/mail/%u?uidl=xuidl",
		"DEFAULT_BACKEND=legacy",
		"DATA_DIR=" + dir,
		"LISTEN=127.0.0.1:0",
	}
	for _, cmd := range []string{"check-config", "serve"} {
		code, _, errOut := runCmd(t, env, cmd)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", cmd, code, exitUsage, errOut)
		}
		if !strings.Contains(errOut, "POPGATE_USERS_FILE: "+filepath.Join(dir, "users")+" does not exist") {
			t.Errorf("%s: stderr does not name the users file:\n%s", cmd, errOut)
		}
	}
	// With auth_backend the file is optional.
	env[0] += "&auth_backend=legacy"
	if code, _, errOut := runCmd(t, env, "check-config"); code != exitOK {
		t.Errorf("with auth_backend: exit %d; stderr:\n%s", code, errOut)
	}
}

func TestUnusableUsersFileLineIsAWarning(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	content := "alice:{PLAIN}secret:999:995::home::\nbob:{CRAM-MD5}0123abcd\ncarol:$1$salt$hash\n"
	if err := os.WriteFile(users, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"BACKENDS=native=maildir://" + dir + "/mail/%u", "DATA_DIR=" + dir, "LISTEN=127.0.0.1:0"}
	code, _, errOut := runCmd(t, env, "check-config")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		"warning: POPGATE_USERS_FILE " + users + `: line 2: user "bob": unsupported scheme {CRAM-MD5}; user disabled`,
		"warning: POPGATE_USERS_FILE " + users + `: line 3: user "carol": unknown password scheme`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "0123abcd") {
		t.Errorf("a warning shows a secret:\n%s", errOut)
	}
	// serve starts with the same file, and alice logs in with the
	// password field alone.
	mkMaildir(t, filepath.Join(dir, "mail", "alice"), "hello alice")
	full := make([]string, len(env))
	for i, v := range env {
		full[i] = "POPGATE_" + v
	}
	s := startServer(t, full, Hooks{})
	if got := pop3Subject(t, s.addrs.Plain.String()); got != "hello alice" {
		t.Errorf("alice's message 1 has subject %q", got)
	}
}

func TestRemoteLegacyWithoutProxyHeaderIsAWarning(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool
	}{
		{"pop3://192.0.2.10:110", true},
		{"pop3://mail.example.org", true},
		{"pop3s://[2001:db8::1]:995", true},
		{"pop3://192.0.2.10:110?proxy_protocol=v2", false},
		{"pop3://127.0.0.1:1100", false},
		{"pop3://[::1]:1100", false},
		{"pop3://localhost:1100", false},
	} {
		code, _, errOut := runCmd(t, []string{"BACKENDS=legacy=" + tc.url, "DATA_DIR=" + t.TempDir()}, "check-config")
		warned := strings.Contains(errOut, "warning: POPGATE_BACKENDS: backend legacy") && strings.Contains(errOut, "proxy_protocol=v2")
		if code != exitOK || warned != tc.warn {
			t.Errorf("%s: exit %d, warned %v, want 0 and %v; stderr:\n%s", tc.url, code, warned, tc.warn, errOut)
		}
	}
}
