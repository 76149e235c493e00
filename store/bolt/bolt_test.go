package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/bolt"
	"github.com/popgate/popgate/store/storetest"
)

func open(t *testing.T, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) store.UIDLStore { return open(t, filepath.Join(t.TempDir(), bolt.FileName)) },
		func(t *testing.T, s store.UIDLStore) store.UIDLStore {
			path := s.(*bolt.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, path)
		})
}

func TestBreaksContract(t *testing.T) {
	storetest.RunBreaks(t,
		func(t *testing.T) store.BreakStore { return open(t, filepath.Join(t.TempDir(), bolt.FileName)) },
		func(t *testing.T, s store.BreakStore) store.BreakStore {
			path := s.(*bolt.Store).Path()
			if err := s.(*bolt.Store).Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, path)
		})
}

func TestConcurrentWriters(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), bolt.FileName))
	ctx := context.Background()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			user := fmt.Sprintf("user%d", i)
			errs <- s.SetLegacy(ctx, user, []store.Entry{{UIDL: "x", Fingerprint: user, Seq: 1}})
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	users, err := s.Users(ctx)
	if err != nil || len(users) != 8 {
		t.Fatalf("Users = %v, %v; want 8 users", users, err)
	}
	for _, u := range users {
		es, err := s.Legacy(ctx, u)
		if err != nil || len(es) != 1 || es[0].Fingerprint != u {
			t.Errorf("Legacy(%s) = %v, %v", u, es, err)
		}
	}
}

func TestOpenNeedsDirectory(t *testing.T) {
	if _, err := bolt.Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestKV(t *testing.T) {
	path := filepath.Join(t.TempDir(), bolt.FileName)
	var s *bolt.Store
	kvOf := func(t *testing.T) storetest.KV {
		kv, err := s.KV()
		if err != nil {
			t.Fatal(err)
		}
		return kv
	}
	storetest.RunKV(t,
		func(t *testing.T) storetest.KV { s = open(t, path); return kvOf(t) },
		func(t *testing.T) storetest.KV {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, path)
			return kvOf(t)
		})
}
