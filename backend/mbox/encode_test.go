package mbox

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/popgate/popgate/uidl"
)

// The index survives its encoding, hidden headers and all; damaged or
// foreign encodings are refused, never half read.
func TestIndexEncoding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	os.WriteFile(path, []byte("junk\n\n"+strings.Replace(genMsg(1), "Subject:", "Status: RO\nX-UID: 3\nSubject:", 1)+genMsg(2)), 0o600)
	f, _ := os.Open(path)
	defer f.Close()
	for _, idx := range []*Index{{}, mustLoad(t, f, Config{Scheme: uidl.Native}), mustLoad(t, f, Config{Scheme: uidl.Popa3d, Hide: true})} {
		b, err := idx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Index
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&got, idx) {
			t.Fatalf("decoded %+v\nwant %+v", got, *idx)
		}
		for n := range len(b) {
			if (&Index{}).UnmarshalBinary(b[:n]) == nil {
				t.Fatalf("a truncated encoding (%d of %d bytes) decoded", n, len(b))
			}
		}
		if (&Index{}).UnmarshalBinary(append(b, 0)) == nil {
			t.Fatal("an encoding with trailing bytes decoded")
		}
	}
	if mustLoad(t, f, Config{Scheme: uidl.Popa3d, Hide: true}).Msgs[0].Hidden == nil {
		t.Fatal("test spool has no hidden headers")
	}
}

func mustLoad(t *testing.T, f *os.File, cfg Config) *Index {
	t.Helper()
	idx, _, _, err := Load(f, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
