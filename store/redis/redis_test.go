package redis_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/redis"
	"github.com/popgate/popgate/store/storetest"
)

// prefixes makes each store of a test see its own keys in the shared
// server, as separate popgate clusters would.
var prefixes atomic.Int64

func open(t *testing.T, url, prefix string) *redis.Store {
	t.Helper()
	s, err := redis.Open(context.Background(), url, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPrefix() string { return fmt.Sprintf("t%d:", prefixes.Add(1)) }

func TestContract(t *testing.T) {
	srv := testpeer.StartRedis(t)
	storetest.Run(t,
		func(t *testing.T) store.UIDLStore { return open(t, srv.URL(0), newPrefix()) },
		func(t *testing.T, s store.UIDLStore) store.UIDLStore {
			prefix := s.(*redis.Store).Prefix()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, srv.URL(0), prefix)
		})
}

func TestBreaksContract(t *testing.T) {
	srv := testpeer.StartRedis(t)
	storetest.RunBreaks(t,
		func(t *testing.T) store.BreakStore { return open(t, srv.URL(0), newPrefix()) },
		func(t *testing.T, s store.BreakStore) store.BreakStore {
			prefix := s.(*redis.Store).Prefix()
			if err := s.(*redis.Store).Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, srv.URL(0), prefix)
		})
}

func TestPrefixesAndDatabasesAreSeparate(t *testing.T) {
	srv := testpeer.StartRedis(t)
	ctx := context.Background()
	a := open(t, srv.URL(0), "a:")
	b := open(t, srv.URL(0), "b:")
	c := open(t, srv.URL(1), "a:")
	if err := a.SetLegacy(ctx, "u", []store.Entry{{UIDL: "x", Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*redis.Store{"other prefix": b, "other database": c} {
		if users, err := s.Users(ctx); err != nil || len(users) != 0 {
			t.Errorf("%s: Users = %v, %v; want none", name, users, err)
		}
	}
	if users, err := a.Users(ctx); err != nil || len(users) != 1 {
		t.Errorf("Users = %v, %v; want [u]", users, err)
	}
}

// A maildrop of many messages is recorded in one call, and a later poll
// that only learns fingerprints keeps everything else.
func TestLargeMaildrop(t *testing.T) {
	srv := testpeer.StartRedis(t)
	ctx := context.Background()
	s := open(t, srv.URL(0), newPrefix())
	const n = 10000
	present := make([]store.Entry, n)
	for i := range present {
		present[i] = store.Entry{UIDL: fmt.Sprintf("u%05d", i), Seq: i + 1}
	}
	if err := s.SetLegacy(ctx, "big", present); err != nil {
		t.Fatal(err)
	}
	present[7].Fingerprint = "fp7"
	if err := s.SetLegacy(ctx, "big", present[:n-1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Legacy(ctx, "big")
	if err != nil || len(got) != n {
		t.Fatalf("Legacy = %d entries, %v; want %d", len(got), err, n)
	}
	for _, e := range got {
		switch e.UIDL {
		case "u00007":
			if e.Fingerprint != "fp7" || e.Gone {
				t.Errorf("entry 7 = %+v", e)
			}
		case fmt.Sprintf("u%05d", n-1):
			if !e.Gone {
				t.Errorf("last entry = %+v, want gone", e)
			}
		default:
			if e.Gone || e.Fingerprint != "" {
				t.Errorf("entry = %+v", e)
			}
		}
	}
}

// Instances recording the same user at once keep every fingerprint: the
// merge runs on the server.
func TestConcurrentInstances(t *testing.T) {
	srv := testpeer.StartRedis(t)
	ctx := context.Background()
	prefix := newPrefix()
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		s := open(t, srv.URL(0), prefix)
		go func() {
			present := make([]store.Entry, n)
			for j := range present {
				present[j] = store.Entry{UIDL: fmt.Sprint(j), Seq: j + 1}
			}
			present[i].Fingerprint = fmt.Sprint("fp", i)
			errs <- s.SetLegacy(ctx, "u", present)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := open(t, srv.URL(0), prefix).Legacy(ctx, "u")
	if err != nil || len(got) != n {
		t.Fatalf("Legacy = %v, %v", got, err)
	}
	for _, e := range got {
		if e.Fingerprint != "fp"+e.UIDL {
			t.Errorf("entry %+v lost its fingerprint", e)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	srv := testpeer.StartRedis(t)
	srv.Stop()
	if _, err := redis.Open(context.Background(), srv.URL(0), "p:"); err == nil {
		t.Fatal("Open of a stopped server succeeded")
	}
}

func TestKV(t *testing.T) {
	srv := testpeer.StartRedis(t)
	prefix := newPrefix()
	storetest.RunKV(t,
		func(t *testing.T) storetest.KV { return open(t, srv.URL(0), prefix).KV() },
		func(t *testing.T) storetest.KV { return open(t, srv.URL(0), prefix).KV() })
}

func TestLeases(t *testing.T) {
	srv := testpeer.StartRedis(t)
	ctx := context.Background()
	l := open(t, srv.URL(0), newPrefix()).Leases()
	take := func(holder string, ttl time.Duration) (bool, string) {
		t.Helper()
		ok, current, err := l.Take(ctx, "/var/mail/u", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok, current
	}
	if h, _, err := l.Holder(ctx, "/var/mail/u"); err != nil || h != "" {
		t.Errorf("Holder of a free lease = %q, %v; want none", h, err)
	}
	if ok, _ := take("a", time.Minute); !ok {
		t.Fatal("first Take failed")
	}
	if h, left, err := l.Holder(ctx, "/var/mail/u"); err != nil || h != "a" || left <= 0 || left > time.Minute {
		t.Errorf("Holder = %q, %v, %v; want a, for at most a minute", h, left, err)
	}
	if ok, current := take("b", time.Minute); ok || current != "a" {
		t.Errorf("second Take = %v, %q; want refused naming a", ok, current)
	}
	if held, err := l.Renew(ctx, "/var/mail/u", "b", time.Minute); err != nil || held {
		t.Errorf("Renew by another holder = %v, %v; want false", held, err)
	}
	if held, err := l.Renew(ctx, "/var/mail/u", "a", time.Minute); err != nil || !held {
		t.Errorf("Renew by the holder = %v, %v; want true", held, err)
	}
	if err := l.Drop(ctx, "/var/mail/u", "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := take("b", time.Minute); ok {
		t.Error("Drop by another holder released the lease")
	}
	if err := l.Drop(ctx, "/var/mail/u", "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := take("b", 50*time.Millisecond); !ok {
		t.Fatal("Take after Drop failed")
	}
	time.Sleep(100 * time.Millisecond)
	if ok, _ := take("c", time.Minute); !ok {
		t.Error("an expired lease still blocks")
	}
}

// Values written before imports were recorded read as learned, and a
// session's SetLegacy leaves them as they are.
func TestValuesWithoutProvenance(t *testing.T) {
	srv := testpeer.StartRedis(t)
	ctx := context.Background()
	prefix := newPrefix()
	s := open(t, srv.URL(0), prefix)
	key := prefix + "legacy:u"
	if err := s.Client().HSet(ctx, key, "a\x000", "01 fa", "b\x000", "12 ").Err(); err != nil {
		t.Fatal(err)
	}
	want := []store.Entry{{UIDL: "a", Fingerprint: "fa", Seq: 1}, {UIDL: "b", Seq: 2, Gone: true}}
	got, err := s.Legacy(ctx, "u")
	slices.SortFunc(got, func(x, y store.Entry) int { return strings.Compare(x.UIDL, y.UIDL) })
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Legacy = %+v, %v; want %+v", got, err, want)
	}
	if err := s.SetLegacy(ctx, "u", []store.Entry{{UIDL: "a", Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Client().HGet(ctx, key, "a\x000").Result(); err != nil || v != "01 fa" {
		t.Errorf("after SetLegacy the value is %q, %v; want it unchanged", v, err)
	}
}
