package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/app"
)

// TestConfigurationMistakes runs popgate as an operator would, with each
// mistake the abuse review found, and checks the exit status and the
// message: check-config and serve must agree, and a typo must never be
// served silently.
func TestConfigurationMistakes(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}pw:999:995::home::\nbob:{CRAM-MD5}c2VjcmV0\ncarol:$1$salt$x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spool := "mbox://" + dir + "/%u"
	for _, tc := range []struct {
		name string
		vars []string
		args []string
		code int
		want string // in stderr
	}{
		{"misspelled variable", []string{"POPGATE_LISTN=0.0.0.0:110"}, []string{"check-config"}, 2,
			"POPGATE_LISTN: unknown variable; did you mean POPGATE_LISTEN?"},
		{"singular BACKEND", []string{"POPGATE_BACKEND=legacy=pop3://127.0.0.1:1100"}, []string{"serve"}, 2,
			"did you mean POPGATE_BACKENDS?"},
		{"qpopper step 2 without users file, check-config",
			[]string{"POPGATE_BACKENDS=legacy=pop3://127.0.0.1:1100,native=mbox://" + dir + "/none/%u?uidl=xuidl",
				"POPGATE_DEFAULT_BACKEND=legacy", "POPGATE_DATA_DIR=" + filepath.Join(dir, "empty")},
			[]string{"check-config"}, 2, "POPGATE_USERS_FILE: " + filepath.Join(dir, "empty", "users") + " does not exist"},
		{"qpopper step 2 without users file, serve",
			[]string{"POPGATE_BACKENDS=legacy=pop3://127.0.0.1:1100,native=mbox://" + dir + "/none/%u?uidl=xuidl",
				"POPGATE_DEFAULT_BACKEND=legacy", "POPGATE_DATA_DIR=" + filepath.Join(dir, "empty"), "POPGATE_LISTEN=127.0.0.1:0"},
			[]string{"serve"}, 2, "POPGATE_USERS_FILE: " + filepath.Join(dir, "empty", "users") + " does not exist"},
		{"unsupported schemes disable their users only",
			[]string{"POPGATE_BACKENDS=native=" + spool, "POPGATE_USERS_FILE=" + users, "POPGATE_DATA_DIR=" + dir},
			[]string{"check-config"}, 0, `line 2: user "bob": unsupported scheme {CRAM-MD5}; user disabled`},
		{"a native path with two slashes", []string{"POPGATE_BACKENDS=native=mbox://var/mail/%u"}, []string{"check-config"}, 2,
			"write mbox:///var/mail/%u for an absolute path"},
		{"a remote legacy server without PROXY header",
			[]string{"POPGATE_BACKENDS=legacy=pop3://192.0.2.10:110", "POPGATE_DATA_DIR=" + dir},
			[]string{"check-config"}, 0, "add proxy_protocol=v2"},
		{"a negative connection limit", []string{"POPGATE_MAX_PRELOGIN=-1"}, []string{"check-config"}, 2,
			"POPGATE_MAX_PRELOGIN: -1 is negative"},
		{"a flag after the path, misspelled", nil, []string{"uidl", "import", "/var/mail", "-shceme", "xuidl"}, 2,
			"flag provided but not defined: -shceme"},
		{"an unknown flag", nil, []string{"check-config", "--verbose"}, 2, "popgate check-config: unknown flag --verbose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a serve that got through would stop at once
			code := app.Run(ctx, append([]string{"popgate"}, tc.args...), append([]string{"HOME=/nonexistent"}, tc.vars...), &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, want %d; stderr does not hold %q:\n%s", code, tc.code, tc.want, errOut.String())
			}
			if strings.Contains(errOut.String(), "c2VjcmV0") {
				t.Errorf("stderr shows a secret:\n%s", errOut.String())
			}
		})
	}
}
