package backend

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/popgate/popgate/backend/mbox"
)

func TestMaildropState(t *testing.T) {
	spool := t.TempDir()
	b, _ := newTestBackend(t, KindMbox, spool+"/%u", t.TempDir(), "")
	path := filepath.Join(spool, "ed")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := b.Maildrop("ed")
	if err != nil || m.Path != path || m.Kind != KindMbox || m.Spool == nil || m.Spool.Dotlock || m.RepairPending {
		t.Fatalf("Maildrop(ed) = %+v, %v; want a free mbox at %s", m, err, path)
	}
	// A rewrite interrupted by a crash left its journal.
	if err := os.WriteFile(mbox.JournalPath(path), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, _ := b.Maildrop("ed"); !m.RepairPending {
		t.Errorf("journal present, Maildrop(ed) = %+v; want a repair pending", m)
	}
	if _, err := b.Maildrop("../ed"); err == nil {
		t.Error("Maildrop accepted a user name that leaves the spool directory")
	}

	md, _ := newTestBackend(t, KindMaildir, spool+"/%u/Maildir", t.TempDir(), "")
	if m, err := md.Maildrop("ed"); err != nil || m.Kind != KindMaildir || m.Spool != nil {
		t.Errorf("Maildir: %+v, %v; want no spool locks", m, err)
	}
}
