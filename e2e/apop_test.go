package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
)

// timestampRe finds the APOP timestamp of a greeting.
var timestampRe = regexp.MustCompile(`<[^<>@ ]+@[^<> ]+>`)

// apopDigest is the APOP response over timestamp (RFC 1939 section 7).
func apopDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

// TestAPOPRelayed: with apop=true on the default legacy backend (a Dovecot
// with APOP enabled), popgate greets each client with Dovecot's own
// timestamp and relays the digest unchanged, and relays CRAM-MD5 with
// Dovecot's challenge; fetchmail's "protocol apop" and mpop's "auth
// cram-md5" retrieve the same messages as USER/PASS directly. A native user
// with a {PLAIN} secret is verified by popgate over the same challenges;
// mpop's "auth apop" logs in over popgate's own.
func TestAPOPRelayed(t *testing.T) {
	mbox := testpeer.SimpleMbox(3)
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{APOP: true,
		Users: []testpeer.User{{Name: "rachel", Password: "apop-secret", Mbox: mbox}}})
	user := dovecot.Login("rachel")
	spools := spoolDir(t, "nora", mbox)
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("nora:{PLAIN}nora-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	routes := filepath.Join(t.TempDir(), "routes")
	if err := os.WriteFile(routes, []byte("nora native\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gate := startRelay(t, "BACKENDS=legacy="+legacyURL(dovecot.Addr)+"&apop=true,native="+mboxURL(spools),
		"DEFAULT_BACKEND=legacy", "USERS_FILE="+users, "ROUTES="+routes)

	t.Run("raw", func(t *testing.T) {
		rc, greeting := dialGreeting(t, gate.Addr)
		ts := timestampRe.FindString(greeting)
		if ts == "" || strings.Contains(ts, "popgate.test") {
			t.Fatalf("greeting %q does not carry Dovecot's timestamp", greeting)
		}
		rc.Expect("APOP "+user+" "+apopDigest(ts, "wrong"), "-ERR [AUTH]")
		rc.Close()

		rc, greeting = dialGreeting(t, gate.Addr)
		ts = timestampRe.FindString(greeting)
		rc.Expect("APOP "+user+" "+apopDigest(ts, "apop-secret"), "+OK")
		if n := len(rc.Lines("LIST")); n != 3 {
			t.Errorf("LIST after APOP: %d messages, want 3", n)
		}
		rc.Quit()

		rc, greeting = dialGreeting(t, gate.Addr)
		ts = timestampRe.FindString(greeting)
		rc.Expect("APOP nora "+apopDigest(ts, "nora-secret"), "+OK")
		rc.Quit()
	})
	// fetchmail's APOP, and mpop's CRAM-MD5, which is relayed on the same
	// connection with Dovecot's challenge.
	for _, c := range []struct {
		name string
		new  func(user, pass string) *testpeer.Poller
	}{
		{"fetchmail apop", func(user, pass string) *testpeer.Poller {
			return testpeer.NewFetchmailProto(t, gate.Addr, user, pass, "apop")
		}},
		{"mpop cram-md5", func(user, pass string) *testpeer.Poller {
			return testpeer.NewMpopAuth(t, gate.Addr, user, pass, "cram-md5")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := testpeer.NewMpop(t, dovecot.Addr, user, "apop-secret").Poll()
			compareMessages(t, c.name, want, c.new(user, "apop-secret").Poll())
			if native := c.new("nora", "nora-secret").Poll(); len(native) != 3 {
				t.Errorf("%d messages for the native user, want 3", len(native))
			}
		})
	}
	// mpop accepts only timestamps of the msg-id form, which Dovecot's
	// ("<...+...=@host>") is not: it refuses APOP against Dovecot directly
	// too. popgate's own timestamp, on a gate whose only APOP backend is
	// native, suits it.
	t.Run("mpop", func(t *testing.T) {
		native := startRelay(t, "BACKENDS=native="+mboxURL(spools), "DEFAULT_BACKEND=native", "USERS_FILE="+users)
		if got := testpeer.NewMpopAuth(t, native.Addr, "nora", "nora-secret", "apop").Poll(); len(got) != 3 {
			t.Errorf("mpop retrieved %d messages with APOP, want 3", len(got))
		}
		// The same plain secret verifies AUTH CRAM-MD5 (RFC 2195).
		if got := testpeer.NewMpopAuth(t, native.Addr, "nora", "nora-secret", "cram-md5").Poll(); len(got) != 3 {
			t.Errorf("mpop retrieved %d messages with CRAM-MD5, want 3", len(got))
		}
	})
	for _, l := range gate.sessionLines(t, 7) {
		if l["user"] == user && l["result"] != "ok" && l["result"] != "auth_failed" {
			t.Errorf("session line %v", l)
		}
	}
}

// dialGreeting connects and returns the greeting line.
func dialGreeting(t *testing.T, addr string) (*testpeer.Raw, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc := testpeer.Wrap(t, conn)
	return rc, rc.Expect("", "+OK")
}

// TestNoTimestampWithoutAPOP: when no backend can verify APOP, the greeting
// carries no timestamp, so clients do not try it.
func TestNoTimestampWithoutAPOP(t *testing.T) {
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{APOP: true,
		Users: []testpeer.User{{Name: "rachel", Password: "pw", Mbox: testpeer.SimpleMbox(1)}}})
	gate := startRelay(t, "BACKENDS=legacy="+legacyURL(dovecot.Addr), "DEFAULT_BACKEND=legacy")
	rc, greeting := dialGreeting(t, gate.Addr)
	if strings.Contains(greeting, "<") {
		t.Errorf("greeting %q carries a timestamp nothing can verify", greeting)
	}
	rc.Expect("APOP "+dovecot.Login("rachel")+" "+apopDigest("<x@y>", "pw"), "-ERR APOP not supported")
	rc.Quit()
}
