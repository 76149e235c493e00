package backend

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/popgate/popgate/uidl"
)

func message(i int) string {
	return fmt.Sprintf("From d@test Sun Nov 29 02:00:%02d 2026\nReceived: from h%d by mx\nMessage-ID: <d-%d@test>\nSubject: %d\n\nbody %d\n\n", i%60, i, i, i, i)
}

func appendMsgs(t testing.TB, path string, from, to int) int64 {
	t.Helper()
	var buf bytes.Buffer
	for i := from; i < to; i++ {
		buf.WriteString(message(i))
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	return int64(buf.Len())
}

func poll(t testing.TB, b *Backend, user string) []string {
	t.Helper()
	m := login(t, b, user)
	defer m.Close()
	return uidList(t, m)
}

func TestIndexPolls(t *testing.T) {
	for _, scheme := range []uidl.Scheme{uidl.Native, uidl.Popa3d} {
		t.Run(string(scheme), func(t *testing.T) {
			spool, data := t.TempDir(), t.TempDir()
			path := filepath.Join(spool, "rachel")
			size := appendMsgs(t, path, 0, 40)
			b, log := newTestBackend(t, KindMbox, spool+"/%u", data, scheme)

			first := poll(t, b, "rachel")
			if scan, work := log.last(); scan != "full" || work != size {
				t.Fatalf("first poll: %s, %d bytes parsed; want full, %d", scan, work, size)
			}
			if again := poll(t, b, "rachel"); !slices.Equal(again, first) {
				t.Fatal("UIDLs changed between polls")
			}
			if scan, work := log.last(); scan != "unchanged" || work != 0 {
				t.Fatalf("unchanged poll: %s, %d bytes parsed", scan, work)
			}

			added := appendMsgs(t, path, 40, 42)
			grown := poll(t, b, "rachel")
			if scan, work := log.last(); scan != "appended" || work != added+int64(len(message(39))) {
				t.Fatalf("poll after append: %s, %d bytes parsed; want appended, %d", scan, work, added+int64(len(message(39))))
			}
			if len(grown) != 42 || !slices.Equal(grown[:40], first) {
				t.Fatalf("after append: %d UIDLs, old ones kept: %v", len(grown), slices.Equal(grown[:40], first))
			}

			// A restart with the same data directory stays warm.
			b.Close()
			b2, log2 := newTestBackend(t, KindMbox, spool+"/%u", data, scheme)
			if got := poll(t, b2, "rachel"); !slices.Equal(got, grown) {
				t.Fatal("UIDLs changed across a restart")
			}
			if scan, work := log2.last(); scan != "unchanged" || work != 0 {
				t.Fatalf("poll after restart: %s, %d bytes parsed", scan, work)
			}
			b2.Close()

			// Losing the index changes no UIDL.
			os.Remove(filepath.Join(data, "index.db"))
			b3, log3 := newTestBackend(t, KindMbox, spool+"/%u", data, scheme)
			if got := poll(t, b3, "rachel"); !slices.Equal(got, grown) {
				t.Fatalf("UIDLs changed after index loss:\n%v\n%v", got, grown)
			}
			if scan, _ := log3.last(); scan != "full" {
				t.Fatalf("poll after index loss: %s, want full", scan)
			}
		})
	}
}

// Another program rewrote the spool (same size, different messages): the
// next poll rescans and answers for the new content.
func TestIndexRewrittenElsewhere(t *testing.T) {
	spool := t.TempDir()
	path := filepath.Join(spool, "bob")
	appendMsgs(t, path, 0, 10)
	b, log := newTestBackend(t, KindMbox, spool+"/%u", t.TempDir(), "")
	before := poll(t, b, "bob")
	os.Remove(path)
	appendMsgs(t, path, 10, 20) // same length messages, new content
	after := poll(t, b, "bob")
	if scan, _ := log.last(); scan != "full" {
		t.Fatalf("scan after rewrite: %s", scan)
	}
	fresh, _ := newTestBackend(t, KindMbox, spool+"/%u", "", "")
	if want := poll(t, fresh, "bob"); !slices.Equal(after, want) || slices.Equal(after, before) {
		t.Fatalf("after a rewrite: %v, fresh backend says %v", after, want)
	}
}
