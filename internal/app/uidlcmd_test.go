package app

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/memstore"
)

func runUIDLCmd(t *testing.T, env uidlEnv, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runUIDL(context.Background(), args, env, &out, &errb)
	return code, out.String(), errb.String()
}

// storeOf makes every subcommand open st.
func storeOf(st store.UIDLStore) func() (store.UIDLStore, error) {
	return func() (store.UIDLStore, error) { return st, nil }
}

func TestUIDLImportShowVerify(t *testing.T) {
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
	env := uidlEnv{openStore: storeOf(st), backends: map[string]pop3.Opener{"legacy": legacy}, legacyBackend: "legacy",
		getenv: func(k string) string {
			if k == uidlPasswordVar {
				return "secret"
			}
			return ""
		}}

	code, out, errOut := runUIDLCmd(t, env, "import", "-scheme", "popa3d", "-user", "bob", "../../uidl/testdata/edge.mbox")
	if code != exitOK || !strings.Contains(out, "users 1, messages 5, mapped 5, duplicates 2, problems 0") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	code, out, _ = runUIDLCmd(t, env, "show", "bob")
	if code != exitOK || strings.Count(out, "d98c1dd404b2008f") != 3 || !strings.Contains(out, "5 legacy messages") {
		t.Errorf("show: %d %q", code, out)
	}
	code, out, _ = runUIDLCmd(t, env, "verify", "bob")
	if code != exitFailure || !strings.Contains(out, "matching 4, missing 1, extra 1, different 1") {
		t.Errorf("verify: %d %q", code, out)
	}
	if c := legacy.Credentials(); len(c) != 1 || c[0].User != "bob" || c[0].Password != "secret" {
		t.Errorf("verify logged in with %+v", c)
	}
	// The password may come from stdin instead.
	env.getenv = nil
	env.stdin = strings.NewReader("secret\n")
	if code, out, _ = runUIDLCmd(t, env, "verify", "-password-stdin", "bob"); !strings.Contains(out, "matching 4") {
		t.Errorf("verify -password-stdin: %d %q", code, out)
	}
}

func TestUIDLUsage(t *testing.T) {
	env := uidlEnv{openStore: storeOf(memstore.New())}
	for _, args := range [][]string{{}, {"frobnicate"}, {"import"}, {"import", "-scheme", "nope", "x"}, {"show"}, {"verify", "bob"}} {
		if code, _, errOut := runUIDLCmd(t, env, args...); code != exitUsage || !strings.Contains(errOut, "usage:") {
			t.Errorf("%q: exit %d, stderr %q; want %d with usage", args, code, errOut, exitUsage)
		}
	}
}
