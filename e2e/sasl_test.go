package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// spoolDir returns a new spool directory holding user's mbox.
func spoolDir(t *testing.T, user string, mbox []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, user), mbox, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAuthLoginWithMpop logs in with AUTH LOGIN (mpop's "auth login")
// through popgate to a relayed Dovecot and to the native backend, and
// checks that the same messages arrive as with USER/PASS.
func TestAuthLoginWithMpop(t *testing.T) {
	mbox := testpeer.SimpleMbox(3)
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{{Name: "rachel", Password: "s3cret pass", Mbox: mbox}}})
	spools := spoolDir(t, "nora", mbox)
	for _, tt := range []struct {
		name, user, pass string
		vars             []string
	}{
		{"relayed", dovecot.Login("rachel"), "s3cret pass",
			[]string{"BACKENDS=legacy=" + legacyURL(dovecot.Addr), "DEFAULT_BACKEND=legacy"}},
		{"native", "nora", "nora pw",
			[]string{"BACKENDS=native=" + mboxURL(spools), "DEFAULT_BACKEND=native",
				"USERS_FILE=" + usersFile(t, map[string]string{"nora": "nora pw"})}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gate := startRelay(t, tt.vars...)
			want := testpeer.NewMpop(t, gate.Addr, tt.user, tt.pass).Poll()
			got := testpeer.NewMpopAuth(t, gate.Addr, tt.user, tt.pass, "login").Poll()
			if len(want) != 3 {
				t.Fatalf("USER/PASS retrieved %d messages, want 3", len(want))
			}
			compareMessages(t, "mpop", want, got)
			for _, l := range gate.sessionLines(t, 2) {
				if l["result"] != "ok" || l["auth"] != "ok" {
					t.Errorf("session line %v, want result ok", l)
				}
			}
		})
	}
}
