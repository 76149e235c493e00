package migrate

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store/memstore"
)

func run(t *testing.T, env Env, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIImportShowVerify(t *testing.T) {
	st := memstore.New()
	legacy := &pop3test.Opener{
		Passwords: map[string]string{"bob": "secret"},
		NewMailbox: func(string) pop3.Mailbox {
			// The server still has bob's messages 1-4; message 5 is gone and
			// a new one arrived.
			return &pop3test.Mailbox{
				Messages: [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")},
				UIDs:     []string{"d98c1dd404b2008f", "d98c1dd404b2008f", "e969f85e5f2a579f", "d98c1dd404b2008f", "ffffffffffffffff"},
			}
		},
	}
	env := Env{Store: st, Backends: map[string]pop3.Opener{"legacy": legacy}, LegacyBackend: "legacy",
		Getenv: func(k string) string {
			if k == PasswordVar {
				return "secret"
			}
			return ""
		}}

	code, out, errOut := run(t, env, "import", "-scheme", "popa3d", "-user", "bob", "../uidl/testdata/edge.mbox")
	if code != 0 || !strings.Contains(out, "users 1, messages 5, mapped 5, duplicates 2, problems 0") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	code, out, _ = run(t, env, "show", "bob")
	if code != 0 || strings.Count(out, "d98c1dd404b2008f") != 3 || !strings.Contains(out, "5 legacy messages") {
		t.Errorf("show: %d %q", code, out)
	}
	code, out, _ = run(t, env, "verify", "bob")
	if code != 1 || !strings.Contains(out, "matching 4, missing 1, extra 1, different 1") {
		t.Errorf("verify: %d %q", code, out)
	}
	if c := legacy.Credentials(); len(c) != 1 || c[0].User != "bob" || c[0].Password != "secret" {
		t.Errorf("verify logged in with %+v", c)
	}
	// The password may come from stdin instead.
	env.Getenv = nil
	env.Stdin = strings.NewReader("secret\n")
	if code, out, _ = run(t, env, "verify", "-password-stdin", "bob"); !strings.Contains(out, "matching 4") {
		t.Errorf("verify -password-stdin: %d %q", code, out)
	}
}

func TestCLIUsage(t *testing.T) {
	env := Env{Store: memstore.New()}
	for _, args := range [][]string{{}, {"frobnicate"}, {"import"}, {"import", "-scheme", "nope", "x"}, {"show"}, {"verify", "bob"}} {
		if code, _, errOut := run(t, env, args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%q: exit %d, stderr %q; want 2 with usage", args, code, errOut)
		}
	}
}

func TestCLIImportIntoDataDir(t *testing.T) {
	dir := t.TempDir()
	dir = filepath.Join(dir, "created")
	code, _, errOut := run(t, Env{DataDir: dir}, "import", "-quiet", "-scheme", "popa3d", "../uidl/testdata/test.mbox")
	if code != 0 {
		t.Fatalf("import: %d %q", code, errOut)
	}
	code, out, _ := run(t, Env{DataDir: dir}, "show", "test.mbox")
	if code != 0 || !strings.Contains(out, "5a1c96ef726da04b") {
		t.Errorf("show after import into %s: %d %q", dir, code, out)
	}
}
