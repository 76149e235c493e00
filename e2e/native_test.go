package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/popgate/popgate/internal/testpeer"
)

// usersFile writes a users file of the given users and passwords (bcrypt)
// and returns its path.
func usersFile(t *testing.T, passwords map[string]string) string {
	t.Helper()
	var b strings.Builder
	for user, pass := range passwords {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", user, hash)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNativeBackendMatchesPopa3d gives every real client the same mbox
// twice: from the real popa3d, and from popgate's native backend (uidl=popa3d)
// over a copy of the spool. Each client must store the same messages with
// the same UIDLs and bytes. (popa3d also appends an empty line to a message
// that has headers and no body at all; backend's own tests pin that case.)
func TestNativeBackendMatchesPopa3d(t *testing.T) {
	mbox := testpeer.TrickyMbox()
	legacySrv := testpeer.StartPopa3d(t, []testpeer.User{{Name: "rachel", Password: "pw", Mbox: mbox}})
	user := legacySrv.Login("rachel")

	spools := t.TempDir()
	if err := os.WriteFile(filepath.Join(spools, user), mbox, 0o600); err != nil {
		t.Fatal(err)
	}
	gate := startRelay(t, "BACKENDS=native="+mboxURL(spools, "uidl=popa3d"), "DEFAULT_BACKEND=native",
		"USERS_FILE="+usersFile(t, map[string]string{user: "pw"}))

	for _, c := range testpeer.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			old, oerr := c.New(t, legacySrv.Addr, user, "pw").TryPoll()
			got, nerr := c.New(t, gate.Addr, user, "pw").TryPoll()
			if oerr != nil || nerr != nil {
				t.Fatalf("popa3d: %v; native: %v", oerr, nerr)
			}
			if len(old) != len(got) || len(old) == 0 {
				t.Fatalf("%d messages from popa3d, %d from the native backend", len(old), len(got))
			}
			for i := range old {
				if old[i].UIDL != got[i].UIDL {
					t.Errorf("message %d: UIDL %q from popa3d, %q native", i+1, old[i].UIDL, got[i].UIDL)
				}
				a, b := old[i].Body, got[i].Body
				if !testpeer.SameBody(c.Name, a, b) {
					t.Errorf("message %d: %d bytes from popa3d, %d native; first difference at %d", i+1, len(a), len(b), firstDiff(a, b))
				}
			}
		})
	}
	for _, l := range gate.sessionLines(t, len(testpeer.Clients())) {
		if l["result"] != "ok" || l["backend"] != "native" {
			t.Errorf("session line %v, want result ok on native", l)
		}
	}
}
