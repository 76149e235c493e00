package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/popgate/popgate/store"
)

// txID is the id of the last committed write transaction: every commit,
// even one that changes nothing, increments it.
func txID(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestUnchangedSetLegacyDoesNotWrite(t *testing.T) {
	s, err := OpenFile(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	listing := []store.Entry{{UIDL: "a", Fingerprint: "fa", Seq: 1}, {UIDL: "b", Fingerprint: "fb", Seq: 2}}
	set := func(present []store.Entry, wantWrite bool) {
		t.Helper()
		before := txID(t, s)
		if err := s.SetLegacy(ctx, "u", present); err != nil {
			t.Fatal(err)
		}
		if wrote := txID(t, s) != before; wrote != wantWrite {
			t.Errorf("SetLegacy(%v) committed a write: %v, want %v", present, wrote, wantWrite)
		}
	}
	set(listing, true)
	set(listing, false)
	// A listing without the fingerprints keeps the stored ones: no change.
	set([]store.Entry{{UIDL: "a", Seq: 1}, {UIDL: "b", Seq: 2}}, false)
	// b is gone: its record changes.
	set(listing[:1], true)
	set(listing[:1], false)
	// A new user with an empty maildrop still gets a bucket, as before.
	before := txID(t, s)
	if err := s.SetLegacy(ctx, "v", nil); err != nil {
		t.Fatal(err)
	}
	if txID(t, s) == before {
		t.Error("first SetLegacy of a user wrote nothing")
	}
	if users, _ := s.Users(ctx); len(users) != 2 {
		t.Errorf("Users = %v, want u and v", users)
	}
}

// Records written before imports were recorded read as learned, and a
// session's SetLegacy leaves them as they are.
func TestRecordsWithoutProvenance(t *testing.T) {
	s, err := OpenFile(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.Bucket(bucketLegacy).CreateBucket([]byte("u"))
		if err != nil {
			return err
		}
		// seq 1, not gone, fingerprint fa; seq 2, gone, no fingerprint.
		return errors.Join(b.Put(entryKey("a", 0), []byte("\x01\x00fa")), b.Put(entryKey("b", 0), []byte("\x02\x01")))
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := s.Legacy(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Entry{{UIDL: "a", Fingerprint: "fa", Seq: 1}, {UIDL: "b", Seq: 2, Gone: true}}
	if !slices.Equal(got, want) {
		t.Errorf("Legacy = %+v, want %+v", got, want)
	}
	before := txID(t, s)
	if err := s.SetLegacy(ctx, "u", want[:1]); err != nil {
		t.Fatal(err)
	}
	if txID(t, s) != before {
		t.Error("SetLegacy rewrote records it does not change")
	}
}
