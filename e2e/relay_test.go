package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// legacyServers starts each legacy server the relay must be invisible in
// front of, with one user holding mbox.
func legacyServers(t *testing.T, mbox []byte) map[string]*testpeer.Server {
	t.Helper()
	users := []testpeer.User{{Name: "rachel", Password: "s3cret pass", Mbox: mbox}}
	return map[string]*testpeer.Server{
		"dovecot": testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: users}),
		"popa3d":  testpeer.StartPopa3d(t, users),
	}
}

// TestClientsSeeTheSameThroughPopgate runs every real client against each
// legacy server directly and through popgate, on a mailbox with dot lines,
// "From " in a body, long lines, 8-bit bytes and no final newline, and
// checks that each client retrieved the same bytes and UIDLs both ways.
func TestClientsSeeTheSameThroughPopgate(t *testing.T) {
	for name, srv := range legacyServers(t, testpeer.TrickyMbox()) {
		t.Run(name, func(t *testing.T) {
			user := srv.Login("rachel")
			gate := startRelay(t, "BACKENDS=legacy="+legacyURL(srv.Addr), "DEFAULT_BACKEND=legacy")
			for _, c := range testpeer.Clients() {
				t.Run(c.Name, func(t *testing.T) {
					direct, derr := c.New(t, srv.Addr, user, "s3cret pass").TryPoll()
					via, verr := c.New(t, gate.Addr, user, "s3cret pass").TryPoll()
					if (derr == nil) != (verr == nil) {
						t.Fatalf("direct error %v, through popgate %v", derr, verr)
					}
					if derr != nil {
						t.Logf("%s refuses this maildrop both ways: %v", c.Name, firstLine(derr))
						return
					}
					if len(direct) == 0 {
						t.Fatalf("%s retrieved nothing directly", c.Name)
					}
					compareMessages(t, c.Name, direct, via)
				})
			}
			// Every client opened at least one session through popgate.
			lines := gate.sessionLines(t, len(testpeer.Clients()))
			for _, l := range lines {
				if l["result"] != "ok" || l["user"] != user || l["backend"] != "legacy" || l["auth"] != "ok" {
					t.Errorf("session line %v, want result ok for %s on legacy", l, user)
				}
				if strings.Contains(fmt.Sprint(l), "s3cret") {
					t.Errorf("session line holds the password: %v", l)
				}
			}
		})
	}
}

func compareMessages(t *testing.T, client string, direct, via []testpeer.Message) {
	t.Helper()
	if len(direct) != len(via) {
		t.Fatalf("retrieved %d messages directly, %d through popgate", len(direct), len(via))
	}
	for i := range direct {
		if direct[i].UIDL != via[i].UIDL {
			t.Errorf("message %d: UIDL %q directly, %q through popgate", i+1, direct[i].UIDL, via[i].UIDL)
		}
		if !testpeer.SameBody(client, direct[i].Body, via[i].Body) {
			t.Errorf("message %d: %d bytes directly, %d through popgate; first difference at %d",
				i+1, len(direct[i].Body), len(via[i].Body), firstDiff(direct[i].Body, via[i].Body))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
