package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
	"golang.org/x/crypto/bcrypt"
)

func writeUsers(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadUsers(t *testing.T, lines ...string) *UsersFile {
	t.Helper()
	f, err := LoadUsersFile(writeUsers(t, lines...))
	if err != nil {
		t.Fatalf("LoadUsersFile: %v", err)
	}
	return f
}

func bcryptHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func login(f Authenticator, user, password string) error {
	return f.Authenticate(context.Background(), pop3.Credentials{Mechanism: pop3.MechUser, User: user, Password: password})
}

// wantRefusal checks err is the generic [AUTH] refusal wrapping cause.
func wantRefusal(t *testing.T, err, cause error) {
	t.Helper()
	var pe *pop3.Error
	if !errors.As(err, &pe) || pe.Code != pop3.CodeAuth || pe.Text != pop3.ErrAuthFailed.Text {
		t.Fatalf("err = %v, want the [AUTH] %q refusal", err, pop3.ErrAuthFailed.Text)
	}
	if !errors.Is(err, pop3.ErrAuthFailed) {
		t.Errorf("errors.Is(%v, pop3.ErrAuthFailed) = false", err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Errorf("err = %v, want cause %v", err, cause)
	}
}

func TestUsersFileSchemes(t *testing.T) {
	f := loadUsers(t,
		"# bcrypt, sha-crypt from the spec, plain",
		"",
		"alice:"+bcryptHash(t, "wonderland"),
		"bob:"+shaCryptSpecVectors[7].want, // "Hello world!"
		"carol:"+shaCryptSpecVectors[0].want,
		"dave:{PLAIN}pa ss word:1000:1000::/home/dave::userdb_quota_rule=*:storage=1G",
		"erin:{SHA512-CRYPT}"+shaCryptSpecVectors[7].want,
		"  # indented comment",
	)
	if f.Len() != 5 {
		t.Fatalf("Len() = %d, want 5", f.Len())
	}
	for _, tc := range []struct{ user, pw string }{
		{"alice", "wonderland"}, {"bob", "Hello world!"}, {"carol", "Hello world!"},
		{"dave", "pa ss word"}, {"erin", "Hello world!"},
	} {
		if err := login(f, tc.user, tc.pw); err != nil {
			t.Errorf("login(%s, right password) = %v", tc.user, err)
		}
		wantRefusal(t, login(f, tc.user, tc.pw+"!"), ErrWrongPassword)
		wantRefusal(t, login(f, tc.user, ""), ErrWrongPassword)
	}
	plain := pop3.Credentials{Mechanism: pop3.MechPlain, User: "alice", Password: "wonderland"}
	if err := f.Authenticate(context.Background(), plain); err != nil {
		t.Errorf("AUTH PLAIN: %v", err)
	}
}

func TestUsersFileRealTools(t *testing.T) {
	htpasswd := testpeer.Require(t, "htpasswd")
	mkpasswd := testpeer.Require(t, "mkpasswd")
	lines := []string{
		runTool(t, htpasswd, "-nbB", "-C", "5", "hb", "htpass word"),
		"m6:" + runTool(t, mkpasswd, "-m", "sha-512", "mk pass"),
		"m6r:" + runTool(t, mkpasswd, "-m", "sha-512", "-R", "1234", "mk pass"),
		"m5:" + runTool(t, mkpasswd, "-m", "sha-256", "mk pass"),
	}
	if !strings.HasPrefix(lines[0], "hb:$2y$05$") {
		t.Fatalf("htpasswd wrote %q, want a $2y$05$ hash", lines[0])
	}
	f := loadUsers(t, lines...)
	for user, pw := range map[string]string{"hb": "htpass word", "m6": "mk pass", "m6r": "mk pass", "m5": "mk pass"} {
		if err := login(f, user, pw); err != nil {
			t.Errorf("login(%s) with the tool's hash: %v", user, err)
		}
		wantRefusal(t, login(f, user, "mk pas"), ErrWrongPassword)
	}
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	f := loadUsers(t,
		"alice:"+bcryptHash(t, "wonderland"),
		"bob:"+bcryptHash(t, "builder"),
		"carol:"+shaCryptSpecVectors[7].want,
	)
	type check struct {
		kind  string
		dummy bool
	}
	var seen []check
	f.observe = func(kind string, dummy bool) { seen = append(seen, check{kind, dummy}) }

	wrong := login(f, "alice", "nope")
	unknown := login(f, "mallory", "nope")
	wantRefusal(t, wrong, ErrWrongPassword)
	wantRefusal(t, unknown, ErrUnknownUser)
	var w, u *pop3.Error
	errors.As(wrong, &w)
	errors.As(unknown, &u)
	if w.Code != u.Code || w.Text != u.Text {
		t.Errorf("client sees %q/%q for a wrong password but %q/%q for an unknown user", w.Code, w.Text, u.Code, u.Text)
	}
	// The same work: a bcrypt of the same cost, the second against the dummy.
	want := []check{{"bcrypt/4", false}, {"bcrypt/4", true}}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("verifications = %v, want %v", seen, want)
	}
	if strings.Contains(unknown.Error(), "nope") || strings.Contains(wrong.Error(), "nope") {
		t.Errorf("an error carries the password: %v / %v", unknown, wrong)
	}
}

func TestAPOP(t *testing.T) {
	f := loadUsers(t,
		"mrose:{PLAIN}tanstaaf",
		"alice:"+bcryptHash(t, "wonderland"),
	)
	if !f.SupportsAPOP() || !f.CanAPOP("mrose") || f.CanAPOP("alice") || f.CanAPOP("nobody") {
		t.Fatalf("SupportsAPOP/CanAPOP = %v %v %v %v, want true true false false",
			f.SupportsAPOP(), f.CanAPOP("mrose"), f.CanAPOP("alice"), f.CanAPOP("nobody"))
	}
	// RFC 1939 section 7's example.
	const ts = "<1896.697170952@dbc.mtview.ca.us>"
	if got := apopDigest(ts, []byte("tanstaaf")); got != "c4c9334bac560ecc979e58001b3e22fb" {
		t.Fatalf("apopDigest = %s, want RFC 1939's c4c9334bac560ecc979e58001b3e22fb", got)
	}
	apop := func(user, digest string) error {
		return f.Authenticate(context.Background(), pop3.Credentials{
			Mechanism: pop3.MechAPOP, User: user, Timestamp: ts, Digest: digest})
	}
	if err := apop("mrose", "c4c9334bac560ecc979e58001b3e22fb"); err != nil {
		t.Errorf("APOP with RFC 1939's digest: %v", err)
	}
	if err := apop("mrose", "C4C9334BAC560ECC979E58001B3E22FB"); err != nil {
		t.Errorf("APOP with the digest in upper case: %v", err)
	}
	wantRefusal(t, apop("mrose", "c4c9334bac560ecc979e58001b3e22fc"), ErrWrongPassword)
	wantRefusal(t, apop("alice", apopDigest(ts, []byte("wonderland"))), ErrNoAPOPSecret)
	wantRefusal(t, apop("nobody", apopDigest(ts, []byte("tanstaaf"))), ErrUnknownUser)

	g := loadUsers(t, "alice:"+bcryptHash(t, "wonderland"))
	if g.SupportsAPOP() {
		t.Error("SupportsAPOP() = true for a file without {PLAIN} entries")
	}
}

// TestCRAMMD5 checks RFC 2195's example and the refusals APOP has.
func TestCRAMMD5(t *testing.T) {
	f := loadUsers(t,
		"tim:{PLAIN}tanstaaftanstaaf",
		"alice:"+bcryptHash(t, "wonderland"),
	)
	const challenge = "<1896.697170952@postoffice.reston.mci.net>"
	cram := func(user, digest string) error {
		return f.Authenticate(context.Background(), pop3.Credentials{
			Mechanism: pop3.MechCRAMMD5, User: user, Timestamp: challenge, Digest: digest})
	}
	if err := cram("tim", "b913a602c7eda7a495b4e6e7334d3890"); err != nil {
		t.Errorf("CRAM-MD5 with RFC 2195's digest: %v", err)
	}
	wantRefusal(t, cram("tim", "b913a602c7eda7a495b4e6e7334d3891"), ErrWrongPassword)
	// An APOP digest over the same challenge is not a CRAM-MD5 one.
	wantRefusal(t, cram("tim", apopDigest(challenge, []byte("tanstaaftanstaaf"))), ErrWrongPassword)
	wantRefusal(t, cram("alice", "b913a602c7eda7a495b4e6e7334d3890"), ErrNoAPOPSecret)
	wantRefusal(t, cram("nobody", "b913a602c7eda7a495b4e6e7334d3890"), ErrUnknownUser)
}

func TestBadLinesDisableOnlyTheirUser(t *testing.T) {
	for _, tc := range []struct {
		line, user, want string
	}{
		{"nocolon", "nocolon", "line 3: user \"nocolon\": want user:secret"},
		{":" + shaCryptSpecVectors[7].want, "", "line 3: bad user name"},
		{"a:$1$md5$notsupported", "a", "line 3: user \"a\": unknown password scheme"},
		{"a:{CRAM-MD5}" + strings.Repeat("ab", 32), "a", "line 3: user \"a\": unsupported scheme {CRAM-MD5}"},
		{"a:$2y$05$short", "a", "line 3: user \"a\": malformed bcrypt"},
		{"a:$6$salt$short", "a", "line 3: user \"a\": malformed SHA-crypt"},
		{"a:{MD5}x", "a", "line 3: user \"a\": unsupported scheme {MD5}"},
		{"a:", "a", "line 3: user \"a\": empty password field"},
		{"x:{PLAIN}dup", "x", "line 3: user \"x\" listed twice"},
	} {
		f, err := LoadUsersFile(writeUsers(t, "# header", "x:{PLAIN}y", tc.line, "z:{PLAIN}w"))
		if err != nil {
			t.Fatalf("LoadUsersFile with %q: %v, want the other users loaded", tc.line, err)
		}
		w := strings.Join(f.Warnings(), "\n")
		if !strings.Contains(w, tc.want) {
			t.Errorf("with %q: warnings %q, want one containing %q", tc.line, w, tc.want)
		}
		if strings.Contains(w, "notsupported") || strings.Contains(w, "abab") {
			t.Errorf("a warning echoes the secret field: %q", w)
		}
		if err := login(f, "z", "w"); err != nil {
			t.Errorf("with %q, the user on the next line: %v", tc.line, err)
		}
		if tc.user != "" {
			// Disabled, not unknown: a chain must not ask a legacy server.
			wantRefusal(t, login(f, tc.user, "y"), ErrWrongPassword)
		}
	}
	if _, err := LoadUsersFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadUsersFile(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestDovecotPasswdFileLine(t *testing.T) {
	f := loadUsers(t, "carol:{PLAIN}pw:999:995::home::", "dan:"+shaCryptSpecVectors[7].want+":1000:1000::/home/dan:/bin/false:")
	if err := login(f, "carol", "pw"); err != nil {
		t.Errorf("carol: %v", err)
	}
	wantRefusal(t, login(f, "carol", "pw:999:995::home::"), ErrWrongPassword)
	if err := login(f, "dan", "Hello world!"); err != nil {
		t.Errorf("dan: %v", err)
	}
	if w := f.Warnings(); len(w) != 0 {
		t.Errorf("warnings for a valid file: %q", w)
	}
}

func TestUsersFileReloads(t *testing.T) {
	path := writeUsers(t, "alice:{PLAIN}one")
	f, err := LoadUsersFile(path)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(content string, mtime time.Time) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	// Noticed on the next Authenticate, without Reload.
	replace("alice:{PLAIN}two\nbob:{PLAIN}three\n", time.Now().Add(time.Minute))
	if err := login(f, "alice", "two"); err != nil {
		t.Errorf("after the file changed, new password: %v", err)
	}
	wantRefusal(t, login(f, "alice", "one"), ErrWrongPassword)
	if err := login(f, "bob", "three"); err != nil {
		t.Errorf("after the file changed, new user: %v", err)
	}
	// A bad line disables its user only, and Reload reports it.
	replace("alice:{PLAIN}two\nbob:$1$md5$x\n", time.Now().Add(2*time.Minute))
	if err := f.Reload(); err != nil {
		t.Errorf("Reload of a file with a bad line = %v", err)
	}
	if w := f.Warnings(); len(w) != 1 || !strings.Contains(w[0], "line 2") {
		t.Errorf("warnings %q, want one for line 2", w)
	}
	wantRefusal(t, login(f, "bob", "three"), ErrWrongPassword)
	if err := login(f, "alice", "two"); err != nil {
		t.Errorf("after a bad line, other user: %v", err)
	}
	// Fixed again.
	replace("carol:{PLAIN}four\n", time.Now().Add(3*time.Minute))
	if err := f.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	wantRefusal(t, login(f, "bob", "three"), ErrUnknownUser)
	if err := login(f, "carol", "four"); err != nil {
		t.Errorf("after Reload: %v", err)
	}
}

func TestUnsupportedMechanismIsRefused(t *testing.T) {
	f := loadUsers(t, "alice:{PLAIN}x")
	err := f.Authenticate(context.Background(), pop3.Credentials{Mechanism: "XOAUTH2", User: "alice", Password: "x"})
	wantRefusal(t, err, ErrMechanism)
}
