package index

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

type entry struct {
	Size int64
	UIDs []string
}

func TestCachePersists(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCache[entry](db, "mbox", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := c.Put(k, entry{Size: int64(len(k)), UIDs: []string{k + "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	// "a" fell out of the 2-entry LRU but is still in the file.
	if v, ok := c.Get("a"); !ok || v.UIDs[0] != "a1" {
		t.Fatalf("Get(a) = %+v, %v", v, ok)
	}
	c.Close() // writes what is still pending
	db.Close()

	db, err = OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, _ = NewCache[entry](db, "mbox", 2)
	if v, ok := c.Get("c"); !ok || v.UIDs[0] != "c1" {
		t.Fatalf("after reopen Get(c) = %+v, %v", v, ok)
	}
	if _, ok := c.Get("missing"); ok {
		t.Fatal("Get(missing) found something")
	}
}

func TestMemoryOnly(t *testing.T) {
	c, err := NewCache[entry](nil, "x", 1)
	if err != nil {
		t.Fatal(err)
	}
	c.Put("a", entry{Size: 1})
	c.Put("b", entry{Size: 2})
	if _, ok := c.Get("a"); ok {
		t.Error("evicted entry still found without a DB")
	}
	if v, ok := c.Get("b"); !ok || v.Size != 2 {
		t.Errorf("Get(b) = %+v, %v", v, ok)
	}
}

func TestSharedDB(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenDB(dir) // a second backend over the same data directory
	if err != nil {
		t.Fatalf("second OpenDB: %v", err)
	}
	ca, _ := NewCache[entry](a, "mbox/one", 4)
	cb, _ := NewCache[entry](b, "maildir/two", 4)
	ca.Put("k", entry{Size: 1})
	ca.Close()
	a.Close()
	if err := cb.Put("k", entry{Size: 2}); err != nil {
		t.Fatalf("Put after the other handle closed: %v", err)
	}
	cb.Close()
	b.Close()
	b.Close() // extra Close is harmless
	c, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, _ := NewCache[entry](c, "mbox/one", 4)
	if v, ok := cc.Get("k"); !ok || v.Size != 1 {
		t.Errorf("reopened: %+v, %v", v, ok)
	}
}

// Values put in a burst are all written, each key with its latest value,
// whether they are still pending, being written or written already when
// read back.
func TestWriteBehind(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewCache[entry](db, "mbox", 1)
	for i := range 200 {
		k := string(rune('a' + i%20))
		c.Put(k, entry{Size: int64(i)})
		if v, ok := c.Get(k); !ok || v.Size != int64(i) {
			t.Fatalf("Get(%s) right after Put = %+v, %v", k, v, ok)
		}
		// The previous key is out of the one-value memory by now: it is
		// found in the file or among the writes not in it yet.
		if i > 0 {
			prev := string(rune('a' + (i-1)%20))
			if v, ok := c.Get(prev); !ok || v.Size != int64(i-1) {
				t.Fatalf("Get(%s) after it left memory = %+v, %v", prev, v, ok)
			}
		}
	}
	c.Close()
	if err := c.Put("late", entry{Size: 7}); err != nil {
		t.Fatalf("Put after Close: %v", err)
	}
	db.Close()
	db, _ = OpenDB(dir)
	defer db.Close()
	c, _ = NewCache[entry](db, "mbox", 1)
	defer c.Close()
	for i := 180; i < 200; i++ {
		k := string(rune('a' + i%20))
		if v, ok := c.Get(k); !ok || v.Size != int64(i) {
			t.Errorf("after reopen Get(%s) = %+v, %v; want size %d", k, v, ok, i)
		}
	}
	if v, ok := c.Get("late"); !ok || v.Size != 7 {
		t.Errorf("a Put after Close was not written: %+v, %v", v, ok)
	}
}

// blob encodes itself; the cache stores it that way, not with gob.
type blob struct{ s string }

func (b *blob) AppendBinary(p []byte) ([]byte, error) { return append(p, b.s...), nil }
func (b *blob) UnmarshalBinary(p []byte) error        { b.s = string(p); return nil }

func TestBinaryValues(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewCache[*blob](db, "blobs", 4)
	c.Put("k", &blob{"self-encoded"})
	c.Close()
	db.Close()
	db, _ = OpenDB(dir)
	defer db.Close()
	c, _ = NewCache[*blob](db, "blobs", 4)
	defer c.Close()
	if v, ok := c.Get("k"); !ok || v.s != "self-encoded" {
		t.Fatalf("Get(k) = %+v, %v", v, ok)
	}
	raw := []byte(nil)
	db.bolt.View(func(tx *bolt.Tx) error {
		raw = append(raw, tx.Bucket([]byte("blobs")).Get([]byte("k"))...)
		return nil
	})
	if string(raw) != "\xb1self-encoded" {
		t.Fatalf("stored %q, want the value's own encoding after the tag", raw)
	}
}
