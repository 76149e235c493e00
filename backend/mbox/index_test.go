package mbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popgate/popgate/uidl"
)

func genMsg(i int) string {
	return fmt.Sprintf("From sender%d@example.org Mon Jan  5 10:00:00 2004\nReceived: from h%d by mx\nMessage-ID: <%d@x>\nSubject: m%d\n\nbody %d\nFrom inside a body\n\n", i, i, i, i, i)
}

func load(t *testing.T, path string, prev *Index) (*Index, Scan, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idx, scan, work, err := Load(f, prev, Config{Scheme: uidl.Native})
	if err != nil {
		t.Fatal(err)
	}
	return idx, scan, work
}

// sameAsFull checks an index against a fresh full parse of the file.
func sameAsFull(t *testing.T, path string, idx *Index) {
	t.Helper()
	full, _, _ := load(t, path, nil)
	if len(full.Msgs) != len(idx.Msgs) {
		t.Fatalf("index has %d messages, a full parse %d", len(idx.Msgs), len(full.Msgs))
	}
	for i := range full.Msgs {
		if !reflect.DeepEqual(full.Msgs[i], idx.Msgs[i]) {
			t.Fatalf("msg %d: index %+v, full parse %+v", i+1, idx.Msgs[i], full.Msgs[i])
		}
	}
}

func TestLoadIncremental(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	var content bytes.Buffer
	for i := range 50 {
		content.WriteString(genMsg(i))
	}
	os.WriteFile(path, content.Bytes(), 0o600)
	idx, scan, work := load(t, path, nil)
	if scan != Full || work != int64(content.Len()) || len(idx.Msgs) != 50 {
		t.Fatalf("first load: %v, %d bytes read, %d msgs", scan, work, len(idx.Msgs))
	}

	again, scan, work := load(t, path, idx)
	if scan != Unchanged || work != 0 || again != idx {
		t.Fatalf("unchanged poll: %v, %d bytes read", scan, work)
	}

	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	var extra bytes.Buffer
	for i := 50; i < 53; i++ {
		extra.WriteString(genMsg(i))
	}
	f.Write(extra.Bytes())
	f.Close()
	grown, scan, work := load(t, path, idx)
	lastLen := idx.Msgs[49].End - idx.Msgs[49].From
	if scan != Appended || work != lastLen+int64(extra.Len()) || len(grown.Msgs) != 53 {
		t.Fatalf("append: %v, %d bytes read (want %d), %d msgs", scan, work, lastLen+int64(extra.Len()), len(grown.Msgs))
	}
	sameAsFull(t, path, grown)
	if len(idx.Msgs) != 50 {
		t.Fatal("Load modified the previous index")
	}
}

func TestLoadDetectsRewrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mbox")
	orig := genMsg(1) + genMsg(2) + genMsg(3)
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		change func()
	}{
		{"same size, other content", func() { write(genMsg(4) + genMsg(5) + genMsg(6)) }},
		{"same size, mtime restored", func() {
			st, _ := os.Stat(path)
			write(genMsg(7) + genMsg(8) + genMsg(9))
			os.Chtimes(path, st.ModTime(), st.ModTime())
		}},
		{"truncated", func() { write(genMsg(1)) }},
		{"grown but old tail changed", func() { write(genMsg(1) + genMsg(2) + genMsg(9) + genMsg(4)) }},
		{"new inode", func() {
			os.WriteFile(path+".new", []byte(genMsg(1)+genMsg(3)+genMsg(2)), 0o600)
			os.Rename(path+".new", path)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(orig)
			idx, _, _ := load(t, path, nil)
			time.Sleep(2 * time.Millisecond) // let timestamps move on coarse clocks
			tc.change()
			got, scan, _ := load(t, path, idx)
			if scan != Full {
				t.Fatalf("scan = %v, want full", scan)
			}
			sameAsFull(t, path, got)
		})
	}
}

func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mbox")
	content := "junk\n\n" + genMsg(1) + genMsg(2) + genMsg(3)
	os.WriteFile(path, []byte(content), 0o640)
	past := time.Now().Add(-time.Hour)
	os.Chtimes(path, past, past)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	defer f.Close()
	before, _ := f.Stat()
	idx, _, _, err := Load(f, nil, Config{Scheme: uidl.Native})
	if err != nil {
		t.Fatal(err)
	}
	out, stats, err := Rewrite(path, f, idx, func(i int) bool { return i != 1 }, true)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "junk\n\n" + genMsg(1) + genMsg(3); string(got) != want {
		t.Fatalf("rewritten mailbox:\n%s\nwant:\n%s", got, want)
	}
	if stats.Moved != int64(len(genMsg(3))) {
		t.Errorf("moved %d bytes, want the last message's %d", stats.Moved, len(genMsg(3)))
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	if !os.SameFile(before, st) {
		t.Error("the mailbox is another file now: a delivery agent holding it open would write to the old one")
	}
	if atime := time.Unix(st.Sys().(*syscall.Stat_t).Atim.Unix()); atime.Before(st.ModTime().Truncate(time.Second)) || !st.ModTime().After(past) {
		t.Errorf("atime %v, mtime %v: want both now, so no new mail is announced", atime, st.ModTime())
	}
	if out.Msgs[1].UID != idx.Msgs[2].UID {
		t.Error("kept message changed its UID")
	}
	sameAsFull(t, path, out)
	fresh, scan, _ := load(t, path, out)
	if scan != Unchanged || fresh != out {
		t.Errorf("index returned by Rewrite is not current: %v", scan)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left files behind: %v", ents)
	}
}

// Mail that arrived during the session stays new for notifiers: the access
// time is left older than the modification time.
func TestRewriteKeepsNewMailNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	os.WriteFile(path, []byte(genMsg(1)+genMsg(2)), 0o600)
	past := time.Now().Add(-time.Hour)
	os.Chtimes(path, past, past)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	defer f.Close()
	idx, _, _, err := Load(f, nil, Config{Scheme: uidl.Native})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Rewrite(path, f, idx, func(i int) bool { return i == 1 }, false); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	atime := time.Unix(st.Sys().(*syscall.Stat_t).Atim.Unix())
	if !atime.Before(st.ModTime()) {
		t.Errorf("atime %v not before mtime %v: the new mail would not be announced", atime, st.ModTime())
	}
}

// An agent that rewrites earlier messages in place and shifts the ones
// between (dovecot-lda does) while the file grows forces a full parse, even
// though the last message and the old end look as before.
func TestLoadNoticesShiftedMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	msgs := []string{genMsg(1), genMsg(2), genMsg(3), genMsg(4)}
	os.WriteFile(path, []byte(strings.Join(msgs, "")), 0o600)
	prev, _, _ := load(t, path, nil)
	// Message 1 gains a header and message 2 loses as many bytes, so
	// messages 3 and 4 stay where they were; then one is appended.
	msgs[0] = strings.Replace(msgs[0], "Subject:", "X-UID: 7\nSubject:", 1)
	msgs[1] = strings.Replace(msgs[1], "From inside a body\n", "From insi\n", 1)
	if len(msgs[0])+len(msgs[1]) != len(genMsg(1))+len(genMsg(2)) {
		t.Fatal("test messages do not keep the later offsets")
	}
	os.WriteFile(path, []byte(strings.Join(msgs, "")+genMsg(5)), 0o600)
	idx, scan, _ := load(t, path, prev)
	if scan != Full {
		t.Errorf("scan = %v, want full", scan)
	}
	sameAsFull(t, path, idx)
}

// dovecot-lda rewrites X-IMAPbase in the first message at each delivery,
// in place and at the same length: the first message's unique-id then
// follows its new bytes, as a full parse gives, and the index is still
// extended rather than rebuilt.
func TestLoadRereadsARewrittenFirstMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	first := strings.Replace(genMsg(1), "Subject:", "X-IMAPbase: 1700000000 0000000004\nSubject:", 1)
	os.WriteFile(path, []byte(first+genMsg(2)+genMsg(3)), 0o600)
	prev, _, _ := load(t, path, nil)
	rewritten := strings.Replace(first, "0000000004", "0000000005", 1)
	os.WriteFile(path, []byte(rewritten+genMsg(2)+genMsg(3)+genMsg(4)), 0o600)
	idx, scan, work := load(t, path, prev)
	if scan != Appended {
		t.Errorf("scan = %v, want appended", scan)
	}
	if want := int64(len(rewritten) + len(genMsg(3)) + len(genMsg(4))); work != want {
		t.Errorf("parsed %d bytes, want %d (first, last and new message)", work, want)
	}
	if idx.Msgs[0].UID == prev.Msgs[0].UID {
		t.Error("the rewritten first message kept its old unique-id")
	}
	sameAsFull(t, path, idx)
}

// A spool cut short under the mapping (by a program that ignores the lock)
// makes the boundaries count as moved; the fault does not crash.
func TestBoundariesOfATruncatedSpool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	var content strings.Builder
	for i := 0; content.Len() < 5*os.Getpagesize(); i++ {
		content.WriteString(genMsg(i))
	}
	os.WriteFile(path, []byte(content.String()), 0o600)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	defer f.Close()
	idx := mustLoad(t, f, Config{Scheme: uidl.Native})
	msgs := idx.Msgs[:len(idx.Msgs)-1]
	if !boundariesHold(f, msgs, nil, 0, 0) || !readBoundariesHold(f, msgs) {
		t.Fatal("boundaries of an unchanged spool do not hold")
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(idx.Size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	f.Truncate(int64(os.Getpagesize()))
	if mappedCheck(m, msgs) {
		t.Error("boundaries beyond the end of a truncated spool hold")
	}
	if boundariesHold(f, msgs, nil, 0, 0) || readBoundariesHold(f, msgs) {
		t.Error("boundaries hold after truncation")
	}
}

// A Window kept between loads sees what the file holds now: appends,
// messages shifted in place, a replacement by rename, a truncation under
// the mapping, and it maps the file for itself no more once closed.
func TestLoadThroughAWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	var msgs []string
	for i := range 40 {
		msgs = append(msgs, genMsg(i))
	}
	os.WriteFile(path, []byte(strings.Join(msgs, "")), 0o600)
	w := &Window{}
	defer w.Close()
	loadWith := func(prev *Index) (*Index, Scan) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		idx, scan, _, err := LoadWith(f, prev, Config{Scheme: uidl.Native}, w)
		if err != nil {
			t.Fatal(err)
		}
		sameAsFull(t, path, idx)
		return idx, scan
	}
	appendTo := func(s string) {
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(s)
		f.Close()
	}
	idx, _ := loadWith(nil)
	for i := 40; i < 45; i++ {
		appendTo(genMsg(i))
		if idx, _ = loadWith(idx); len(idx.Msgs) != i+1 {
			t.Fatalf("after append %d: %d messages", i, len(idx.Msgs))
		}
	}
	if w.m == nil {
		t.Fatal("no mapping kept")
	}
	// Message 2 grows and message 3 shrinks by as much, then mail arrives.
	content, _ := os.ReadFile(path)
	shifted := strings.Replace(string(content), "Subject: m2\n", "Subject: m2\nX-UID: 1\n", 1)
	shifted = strings.Replace(shifted, "body 3\nFrom inside a body\n", "body 3\nFrom insi\n", 1)
	if len(shifted) != len(content) {
		t.Fatal("test edit changes the length")
	}
	os.WriteFile(path, []byte(shifted+genMsg(45)), 0o600)
	if _, scan := loadWith(idx); scan != Full {
		t.Fatalf("shifted messages: scan %v, want full", scan)
	}
	idx, _ = loadWith(nil)
	oldIno := w.ino
	os.WriteFile(path+".new", []byte(shifted+genMsg(45)+genMsg(46)), 0o600)
	os.Rename(path+".new", path)
	idx, _ = loadWith(idx)
	appendTo(genMsg(47))
	if idx, _ = loadWith(idx); w.ino == oldIno {
		t.Error("the window still maps the replaced file")
	}
	// Cut under the mapping: the boundaries beyond the end count as moved.
	os.Truncate(path, idx.Msgs[10].From)
	f, _ := os.Open(path)
	w.mu.Lock()
	m, _ := w.view(f, w.dev, w.ino, idx.Size)
	if mappedCheck(m, idx.Msgs) {
		t.Error("boundaries past the end of a truncated spool hold")
	}
	w.mu.Unlock()
	f.Close()
	w.Close()
	if _, err := w.view(nil, 0, 0, 1); err == nil || w.m != nil {
		t.Error("a closed window maps again")
	}
}
