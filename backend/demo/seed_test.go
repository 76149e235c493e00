package demo

import (
	"bytes"
	"context"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/popgate/popgate/backend/auth"
	"github.com/popgate/popgate/backend/maildir"
	"github.com/popgate/popgate/pop3"
)

var seedTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// The standard Maildir delivery name, plus S= and W= fields.
var nameRE = regexp.MustCompile(`^(\d+)\.M\d+P\d+Q\d+\.[^/:,]+,S=(\d+),W=(\d+)$`)

func TestSeedCreatesDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "popgate-data")
	info, err := seed(dir, seedTime)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if !info.Created || !info.HasDemoUser || info.Messages != 3 || info.DataDir != dir ||
		info.UsersFile != filepath.Join(dir, "users") || info.Maildir != filepath.Join(dir, "mail", "demo", "Maildir") {
		t.Fatalf("Info = %+v", info)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}

	// The users file logs the demo user in with the demo password, and only
	// with it; the secret is a bcrypt hash, not the password.
	users, err := auth.LoadUsersFile(info.UsersFile)
	if err != nil {
		t.Fatalf("users file: %v", err)
	}
	try := func(user, pw string) error {
		return users.Authenticate(context.Background(), pop3.Credentials{Mechanism: pop3.MechUser, User: user, Password: pw})
	}
	if err := try(User, Password); err != nil {
		t.Errorf("demo login: %v", err)
	}
	if err := try(User, "wrong"); pop3.CodeOf(err) != pop3.CodeAuth {
		t.Errorf("demo login with a wrong password: %v, want [AUTH]", err)
	}
	data, _ := os.ReadFile(info.UsersFile)
	if !bytes.Contains(data, []byte("\ndemo:$2a$")) || bytes.Contains(data, []byte("{PLAIN}demo")) {
		t.Errorf("users file should hold a bcrypt hash for demo:\n%s", data)
	}
	if fi, _ := os.Stat(info.UsersFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v, want 0600", fi.Mode().Perm())
	}

	// The Maildir: tmp/ and cur/ empty, every message in new/ under a
	// standard name whose sizes are right.
	for _, sub := range []string{"tmp", "cur"} {
		if e, err := os.ReadDir(filepath.Join(info.Maildir, sub)); err != nil || len(e) != 0 {
			t.Errorf("%s/: %v, %d entries, want an empty directory", sub, err, len(e))
		}
	}
	entries, err := os.ReadDir(filepath.Join(info.Maildir, "new"))
	if err != nil || len(entries) != 3 {
		t.Fatalf("new/: %v, %d entries, want 3", err, len(entries))
	}
	var all [][]byte
	for _, e := range entries {
		msg, err := os.ReadFile(filepath.Join(info.Maildir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, msg)
		m := nameRE.FindStringSubmatch(e.Name())
		if m == nil {
			t.Fatalf("name %q is not <time>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size>", e.Name())
		}
		crlf := len(msg) + bytes.Count(msg, []byte("\n"))
		if m[2] != strconv.Itoa(len(msg)) || m[3] != strconv.Itoa(crlf) {
			t.Errorf("%s: S=%s W=%s, want S=%d W=%d", e.Name(), m[2], m[3], len(msg), crlf)
		}
		n, ok := maildir.ParseName(e.Name())
		if !ok || n.Size != int64(len(msg)) || n.VSize != int64(crlf) || n.Info != "" {
			t.Errorf("maildir.ParseName(%q) = %+v, %v", e.Name(), n, ok)
		}
		if bytes.Contains(msg, []byte("\r")) || !bytes.HasSuffix(msg, []byte("\n")) {
			t.Errorf("%s: want LF line ends and a final newline", e.Name())
		}
		if _, err := mail.ReadMessage(bytes.NewReader(msg)); err != nil {
			t.Errorf("%s: not a parseable message: %v", e.Name(), err)
		}
	}
	joined := bytes.Join(all, nil)
	for _, want := range []string{"curl -u demo:demo pop3://127.0.0.1:1110/", "\n.\n", "\n..\n", "\n.hidden\n", "charset=utf-8", "Grüße aus Köln"} {
		if !bytes.Contains(joined, []byte(want)) {
			t.Errorf("no demo message contains %q", want)
		}
	}
	if !utf8.Valid(joined) {
		t.Error("demo messages are not valid UTF-8")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".popgate-data.seed-*")); len(left) != 0 {
		t.Errorf("temporary directories left behind: %v", left)
	}
}

// Every file and its content survive a second Seed unchanged.
func TestSeedLeavesExistingDirectoryAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := seed(dir, seedTime); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	info, err := seed(dir, seedTime.Add(time.Hour))
	if err != nil {
		t.Fatalf("second Seed: %v", err)
	}
	if info.Created || info.Messages != 0 || !info.HasDemoUser {
		t.Errorf("second Seed: Info = %+v, want not Created, with the demo user", info)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("second Seed changed the directory:\nbefore %s\nafter  %s", before, after)
	}

	// Someone else's non-empty directory: nothing is added.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "index.db"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err = Seed(other)
	if err != nil || info.Created || info.HasDemoUser {
		t.Fatalf("Seed(non-empty) = %+v, %v", info, err)
	}
	if e, _ := os.ReadDir(other); len(e) != 1 {
		t.Errorf("Seed added %d entries to a non-empty directory", len(e)-1)
	}
	if s := info.HowToConnect("127.0.0.1:1110"); strings.Contains(s, "demo:demo") {
		t.Errorf("instructions offer demo:demo for a directory without the demo user:\n%s", s)
	}
}

func TestSeedFillsEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	info, err := Seed(dir)
	if err != nil || !info.Created {
		t.Fatalf("Seed(empty) = %+v, %v", info, err)
	}
	if e, _ := os.ReadDir(filepath.Join(info.Maildir, "new")); len(e) != 3 {
		t.Errorf("new/ has %d messages, want 3", len(e))
	}
	if _, err := os.Stat(info.UsersFile); err != nil {
		t.Errorf("users file: %v", err)
	}
}

func TestHowToConnectAndBackendURL(t *testing.T) {
	info, err := seed(filepath.Join(t.TempDir(), "d"), seedTime)
	if err != nil {
		t.Fatal(err)
	}
	s := info.HowToConnect("127.0.0.1:1110")
	for _, want := range []string{"curl -u demo:demo pop3://127.0.0.1:1110/ ", "curl -u demo:demo pop3://127.0.0.1:1110/1 ", info.UsersFile, "3 messages"} {
		if !strings.Contains(s, want) {
			t.Errorf("HowToConnect lacks %q:\n%s", want, s)
		}
	}
	u, err := BackendURL(info.DataDir)
	if want := "maildir://" + info.DataDir + "/mail/%u/Maildir"; err != nil || u != want {
		t.Errorf("BackendURL = %q, %v, want %q", u, err, want)
	}
	if got := strings.ReplaceAll(MaildirPattern(info.DataDir), "%u", User); got != info.Maildir {
		t.Errorf("MaildirPattern for demo = %q, want %q", got, info.Maildir)
	}
}

// snapshot lists every path under dir with its size, mode and content hash.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(path + " " + fi.Mode().String() + " " + fi.ModTime().String())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b.WriteString(" " + strconv.Quote(string(data)))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
