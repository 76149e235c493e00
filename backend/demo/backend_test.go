package demo

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/backend/auth"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/pop3"
)

// The seeded directory works as the embedded default is wired: the users
// file as authenticator and the native Maildir backend at BackendURL. The
// demo user sees the three messages, byte for byte with CRLF line ends.
func TestSeededDemoServesThroughTheNativeBackend(t *testing.T) {
	info, err := seed(filepath.Join(t.TempDir(), "popgate-data"), seedTime)
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.LoadUsersFile(info.UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := BackendURL(info.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := config.ParseBackendURL(raw)
	if err != nil {
		t.Fatalf("config.ParseBackendURL(%q): %v", raw, err)
	}
	opts, err := backend.FromURL("native", u, info.DataDir)
	if err != nil {
		t.Fatalf("backend.FromURL(%q): %v", raw, err)
	}
	opts.Auth = users
	b, err := backend.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ctx := context.Background()
	if _, err := b.Open(ctx, pop3.Credentials{Mechanism: pop3.MechUser, User: User, Password: "nope"}); pop3.CodeOf(err) != pop3.CodeAuth {
		t.Errorf("wrong demo password: %v, want [AUTH]", err)
	}
	mb, err := b.Open(ctx, pop3.Credentials{Mechanism: pop3.MechUser, User: User, Password: Password})
	if err != nil {
		t.Fatalf("demo login: %v", err)
	}
	defer mb.Close()
	list, err := mb.List(ctx, 0)
	if err != nil || len(list) != len(messages) {
		t.Fatalf("List = %d messages, %v; want %d", len(list), err, len(messages))
	}
	files, _ := filepath.Glob(filepath.Join(info.Maildir, "new", "*"))
	want := map[string]bool{}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		want[string(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")))] = true
	}
	for _, m := range list {
		r, err := mb.Retr(ctx, m.Num)
		if err != nil {
			t.Fatalf("Retr %d: %v", m.Num, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !want[string(got)] || int64(len(got)) != m.Size {
			t.Errorf("message %d (%d octets, LIST says %d) is not one of the seeded messages", m.Num, len(got), m.Size)
		}
		delete(want, string(got))
	}
}
