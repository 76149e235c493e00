package migrate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/rewrite"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/memstore"
	"github.com/popgate/popgate/uidl"
)

// spoolDir makes a /var/mail-like directory: alice holds test.mbox, bob
// edge.mbox, plus files import must skip.
func spoolDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for user, src := range map[string]string{"alice": "../uidl/testdata/test.mbox", "bob": "../uidl/testdata/edge.mbox"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, user), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, skip := range []string{".hidden", "alice.lock"} {
		if err := os.WriteFile(filepath.Join(dir, skip), []byte("From x Sat Jan 10 10:00:00 2004\n\nx\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func present(t *testing.T, st store.UIDLStore, user string) map[int]store.Entry {
	t.Helper()
	es, err := st.Legacy(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]store.Entry{}
	for _, e := range es {
		if !e.Gone {
			out[e.Seq] = e
		}
	}
	return out
}

func TestImportDirectoryPopa3d(t *testing.T) {
	st := memstore.New()
	before := time.Now().Truncate(time.Second)
	sum, err := Import(context.Background(), ImportOptions{Path: spoolDir(t), Scheme: uidl.Popa3d, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range present(t, st, "alice") {
		if e.Imported.Before(before) || e.Imported.After(time.Now()) {
			t.Errorf("entry %s imported at %v, want the time of the import", e.UIDL, e.Imported)
		}
	}
	want := Summary{Users: 2, Messages: 10, Mapped: 10, Duplicates: 2}
	if sum.String() != want.String() {
		t.Errorf("summary %v, want %v", sum, want)
	}
	bob := present(t, st, "bob")
	if len(bob) != 5 || bob[1].UIDL != "d98c1dd404b2008f" || bob[2].Dup != 1 || bob[4].Dup != 2 || bob[5].UIDL != "100e6a907106c693" {
		t.Errorf("bob's entries %+v", bob)
	}
	// The fingerprint is the one a Learner computes from what the server
	// sends: the message after its From_ line, with CRLF line ends.
	raw, _ := os.ReadFile("../uidl/testdata/test.mbox")
	first := raw[bytes.IndexByte(raw, '\n')+1:]
	served := strings.ReplaceAll(string(first), "\n", "\r\n")
	if got, want := present(t, st, "alice")[1].Fingerprint, rewrite.FingerprintBytes([]byte(served)); got != want {
		t.Errorf("alice msg 1 fingerprint %s, want %s", got, want)
	}
}

func TestImportAutoUsesStoredXUIDL(t *testing.T) {
	st := memstore.New()
	sum, err := Import(context.Background(), ImportOptions{Path: "../uidl/testdata/test.mbox", User: "alice", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mapped != 2 || sum.ProblemCount != 3 || len(sum.Problems) != 3 || !strings.Contains(sum.Problems[0], "alice message 1") {
		t.Errorf("summary %v %q: want 2 mapped, 3 problems naming the messages", sum, sum.Problems)
	}
	a := present(t, st, "alice")
	if a[4].UIDL != "3b1c8e6f0a7d2c9e5f4a1b0c9d8e7f6a" || a[5].UIDL != `P84"!np+"!0kf!!h3C"!` {
		t.Errorf("alice's entries %+v", a)
	}
}

// Auto settles the scheme per spool: bob's has no X-UIDL header.
func TestImportAutoPerSpool(t *testing.T) {
	st := memstore.New()
	sum, err := Import(context.Background(), ImportOptions{Path: spoolDir(t), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Users != 2 || sum.Messages != 10 || sum.Mapped != 7 || sum.ProblemCount != 3 {
		t.Errorf("summary %v", sum)
	}
	if bob := present(t, st, "bob"); len(bob) != 5 || bob[1].UIDL != "d98c1dd404b2008f" {
		t.Errorf("bob's entries %+v, want popa3d's", bob)
	}
	if a := present(t, st, "alice"); a[4].UIDL != "3b1c8e6f0a7d2c9e5f4a1b0c9d8e7f6a" {
		t.Errorf("alice's entries %+v, want the stored X-UIDLs", a)
	}
}

func TestImportMissingPath(t *testing.T) {
	if _, err := Import(context.Background(), ImportOptions{Path: filepath.Join(t.TempDir(), "nope"), Store: memstore.New()}); err == nil {
		t.Fatal("import of a missing path succeeded")
	}
}

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 1000)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	p.last = now
	p.update(100, 1)
	if buf.Len() != 0 {
		t.Fatalf("progress printed before %v: %q", progressEvery, buf.String())
	}
	now = now.Add(progressEvery)
	p.update(500, 7)
	p.finish(1000, 12)
	want := "import: 50% read, 7 messages\nimport: 100% read, 12 messages\n"
	if buf.String() != want {
		t.Errorf("progress output %q, want %q", buf.String(), want)
	}
}

// An import never silently overwrites what the map already holds: a user
// whose recorded entries disagree with the spool is reported and kept,
// and Replace overwrites it.
func TestImportReportsDisagreements(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	learned := []store.Entry{
		{UIDL: "d98c1dd404b2008f", Fingerprint: "learned-elsewhere", Seq: 1},
		{UIDL: "only-learned", Fingerprint: "x", Seq: 9},
	}
	if err := st.SetLegacy(ctx, "bob", learned); err != nil {
		t.Fatal(err)
	}
	sum, err := Import(ctx, ImportOptions{Path: spoolDir(t), Scheme: uidl.Popa3d, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Conflicts != 1 || !sum.Kept || len(sum.Disagreements) != 2 || !strings.HasPrefix(sum.Disagreements[0], "bob: ") {
		t.Errorf("summary %v %q; want bob's two disagreements, kept", sum, sum.Disagreements)
	}
	if !strings.Contains(sum.String(), "conflicts 1 (kept") {
		t.Errorf("summary line %q does not mention the conflict", sum)
	}
	if bob := present(t, st, "bob"); len(bob) != 2 || bob[1].Fingerprint != "learned-elsewhere" {
		t.Errorf("bob's learned entries changed without Replace: %+v", bob)
	}
	if alice := present(t, st, "alice"); len(alice) != 5 {
		t.Errorf("alice, without conflicts, has %d entries; want 5 imported", len(alice))
	}

	sum, err = Import(ctx, ImportOptions{Path: spoolDir(t), Scheme: uidl.Popa3d, Store: st, Replace: true})
	if err != nil || sum.Conflicts != 1 || sum.Kept {
		t.Fatalf("with Replace: %v %v", sum, err)
	}
	if bob := present(t, st, "bob"); len(bob) != 5 || bob[1].Fingerprint == "learned-elsewhere" {
		t.Errorf("bob after Replace: %+v", bob)
	}
	// Importing the same spools again agrees with what is recorded.
	if sum, err = Import(ctx, ImportOptions{Path: spoolDir(t), Scheme: uidl.Popa3d, Store: st}); err != nil || sum.Conflicts != 0 {
		t.Errorf("a second import: %v %v; want no conflicts", sum, err)
	}
}
