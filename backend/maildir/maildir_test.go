package maildir

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

func TestParseName(t *testing.T) {
	n, ok := ParseName("1700000000.M1P2.host,S=1234,W=1260:2,RS")
	if !ok || n.Base != "1700000000.M1P2.host,S=1234,W=1260" || n.Flags != "RS" || n.Size != 1234 || n.VSize != 1260 {
		t.Fatalf("ParseName = %+v, %v", n, ok)
	}
	if !n.HasFlag('S') || n.HasFlag('T') {
		t.Error("HasFlag wrong")
	}
	if got := n.WithFlag('P'); got != n.Base+":2,PRS" {
		t.Errorf("WithFlag(P) = %q", got)
	}
	if n, ok := ParseName("1.2.h"); !ok || n.Size != -1 || n.Info != "" {
		t.Errorf("plain name: %+v, %v", n, ok)
	}
	for _, bad := range []string{"", ".hidden", ":2,S", "a/b"} {
		if _, ok := ParseName(bad); ok {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
}

func FuzzMaildirName(f *testing.F) {
	for _, s := range []string{"1700000000.M1P2.host,S=1234,W=1260:2,RS", "1.2.h", "a,S=-1:2,", "x,S=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseName(s)
		if !ok {
			return
		}
		if strings.Contains(n.Base, ":") || n.Base == "" {
			t.Fatalf("base %q", n.Base)
		}
		if s != n.Base && s != n.Base+":"+n.Info {
			t.Fatalf("%q does not recombine from %+v", s, n)
		}
		if !uidl.Valid(NativeUID(n.Base)) {
			t.Fatalf("NativeUID(%q) invalid", n.Base)
		}
		again, ok := ParseName(n.WithFlag('S'))
		if !ok || again.Base != n.Base || !again.HasFlag('S') {
			t.Fatalf("WithFlag round trip: %+v", again)
		}
	})
}

func mkMaildir(t *testing.T, msgs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o700)
	}
	for name, body := range msgs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	dir := mkMaildir(t, map[string]string{
		"new/2.b.h":          "Subject: b\n\nno final newline",
		"cur/1.a.h:2,S":      "Subject: a\r\n\r\ncrlf\r\n",
		"tmp/0.partial.h":    "Subject: half",
		"cur/3.c.h,S=20:2,":  "X-UIDL: stored-one\nSubject: c\n\nc\n",
		"new/.hidden-editor": "x",
	})
	idx, read, err := Load(dir, nil, mbox.Config{Scheme: uidl.XUIDL})
	if err != nil {
		t.Fatal(err)
	}
	if read != 3 || len(idx.Msgs) != 3 {
		t.Fatalf("read %d files, %d msgs; want 3, 3", read, len(idx.Msgs))
	}
	wantUID := []string{"1.a.h", "2.b.h", "stored-one"}
	for i, m := range idx.Msgs {
		data, _ := os.ReadFile(m.Path(dir))
		if w := pop3.WireSize(data); w != m.Size {
			t.Errorf("%s: size %d, want %d", m.Name, m.Size, w)
		}
		if m.UID != wantUID[i] {
			t.Errorf("msg %d UID %q, want %q", i+1, m.UID, wantUID[i])
		}
	}

	// A new delivery: only it is read.
	os.WriteFile(filepath.Join(dir, "new/4.d.h"), []byte("Subject: d\n\nd\n"), 0o600)
	os.Rename(filepath.Join(dir, "new/2.b.h"), filepath.Join(dir, "cur/2.b.h:2,S"))
	idx2, read, err := Load(dir, idx, mbox.Config{Scheme: uidl.XUIDL})
	if err != nil {
		t.Fatal(err)
	}
	if read != 1 || len(idx2.Msgs) != 4 || idx2.Msgs[1].UID != "2.b.h" {
		t.Fatalf("second load read %d files, msgs %+v", read, idx2.Msgs)
	}
}

func TestDeleteAndMarkSeen(t *testing.T) {
	dir := mkMaildir(t, map[string]string{"new/1.a.h": "a\n", "new/2.b.h": "b\n", "cur/3.c.h:2,": "c\n"})
	idx, _, _ := Load(dir, nil, mbox.Config{Scheme: uidl.Native})
	// Someone flagged message 1 meanwhile: deleting still finds it.
	os.Rename(filepath.Join(dir, "new/1.a.h"), filepath.Join(dir, "cur/1.a.h:2,F"))
	if err := Delete(dir, idx.Msgs[0]); err != nil {
		t.Fatal(err)
	}
	if err := Delete(dir, idx.Msgs[0]); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := MarkSeen(dir, idx.Msgs[1], false); err != nil {
		t.Fatal(err)
	}
	if err := MarkSeen(dir, idx.Msgs[2], true); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			names = append(names, sub+"/"+e.Name())
		}
	}
	if got := strings.Join(names, " "); got != "cur/2.b.h:2, cur/3.c.h:2,S" {
		t.Errorf("after update: %s", got)
	}
}

func TestLoadHidesStoreHeaders(t *testing.T) {
	dir := mkMaildir(t, map[string]string{"cur/1.a.h:2,": "X-UIDL: old\nSubject: a\nStatus: RO\n\nStatus: in body\n"})
	idx, _, err := Load(dir, nil, mbox.Config{Scheme: uidl.Native, Hide: true})
	if err != nil {
		t.Fatal(err)
	}
	m := idx.Msgs[0]
	f, _ := os.Open(m.Path(dir))
	defer f.Close()
	st, _ := f.Stat()
	raw, _ := io.ReadAll(mbox.Served(f, 0, st.Size(), m.Hidden))
	if string(raw) != "Subject: a\n\nStatus: in body\n" || pop3.WireSize(raw) != m.Size {
		t.Errorf("served %q, size %d", raw, m.Size)
	}
}
