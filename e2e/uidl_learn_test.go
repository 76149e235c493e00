package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/migrate"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/rewrite"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/memstore"
	"github.com/popgate/popgate/uidl"
	"github.com/popgate/popgate/upstream"
)

// TestUIDLLearnAtQuitMatchesImport learns a popa3d maildrop that no client
// retrieves (headers fetched with TOP n 0 at QUIT only) and checks that the
// learned map is the one "popgate uidl import" computes from the spool:
// same UIDLs, same fingerprints.
func TestUIDLLearnAtQuitMatchesImport(t *testing.T) {
	spool := uidlSpool("quit", uidlOldCount, false)
	srv := testpeer.StartPopa3d(t, []testpeer.User{{Name: "quit", Password: uidlPassword, Mbox: spool}})
	login := srv.Login("quit")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	learned := memstore.New()
	op := upstream.New(upstream.Options{Name: "legacy", Addr: srv.Addr, CommandTimeout: 10 * time.Second})
	m, err := op.Open(ctx, pop3.Credentials{Mechanism: pop3.MechUser, User: login, Password: uidlPassword})
	if err != nil {
		t.Fatal(err)
	}
	l := rewrite.Learn(m, login, "legacy", rewrite.Options{Store: learned, Budget: 100, BudgetTime: 20 * time.Second})
	if _, err := l.Update(ctx); err != nil {
		t.Fatal(err)
	}

	imported := memstore.New()
	path := filepath.Join(t.TempDir(), login)
	if err := os.WriteFile(path, srv.Mbox(t, "quit"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Import(ctx, migrate.ImportOptions{Path: path, Scheme: uidl.Popa3d, Store: imported}); err != nil {
		t.Fatal(err)
	}
	got, want := uidlEntries(t, learned, login), uidlEntries(t, imported, login)
	if len(want) != uidlOldCount || len(got) != len(want) {
		t.Fatalf("learned %d entries, imported %d; want %d each", len(got), len(want), uidlOldCount)
	}
	for seq, w := range want {
		if g := got[seq]; g.UIDL != w.UIDL || g.Fingerprint != w.Fingerprint || g.Fingerprint == "" {
			t.Errorf("message %d: learned %s/%s, imported %s/%s", seq, g.UIDL, g.Fingerprint, w.UIDL, w.Fingerprint)
		}
	}
}

func uidlEntries(t *testing.T, st store.UIDLStore, user string) map[int]store.Entry {
	t.Helper()
	es, err := st.Legacy(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]store.Entry{}
	for _, e := range es {
		out[e.Seq] = e
	}
	return out
}
