package lock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/store/redis"
)

// sharedSessions is one instance's session locks (no shared directory),
// shared through srv's leases.
func sharedSessions(t *testing.T, srv *testpeer.Redis, name string) *lock.Sessions {
	t.Helper()
	st, err := redis.Open(context.Background(), srv.URL(0), "p:")
	if err != nil {
		t.Fatal(err)
	}
	s, err := lock.NewSessions("")
	if err != nil {
		t.Fatal(err)
	}
	s.ShareThrough(st.Leases(), name)
	t.Cleanup(func() { s.Close(); st.Close() })
	return s
}

// Two instances (each its own Sessions, no shared directory) keep one
// session per maildrop through Redis leases.
func TestLeasesSpanInstances(t *testing.T) {
	srv := testpeer.StartRedis(t)
	one, two := sharedSessions(t, srv, "one.example"), sharedSessions(t, srv, "two.example")
	held, err := one.Acquire("/var/mail/u", "s1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = two.Acquire("/var/mail/u", "s2")
	var iu *lock.InUseError
	if !errors.As(err, &iu) || !strings.Contains(iu.Holder, "one.example") || !strings.Contains(iu.Holder, "session s1") {
		t.Fatalf("second instance: %v; want in use by one.example session s1", err)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := two.Acquire("/var/mail/u", "s3")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()

	srv.Stop()
	if _, err := one.Acquire("/var/mail/u", "s4"); !errors.Is(err, lock.ErrLeaseUnavailable) {
		t.Errorf("with Redis down: %v; want ErrLeaseUnavailable", err)
	}
	// The local lock was given back: with Redis up again the user gets in.
	srv.Start()
	l, err := one.Acquire("/var/mail/u", "s5")
	if err != nil {
		t.Fatalf("after Redis came back: %v", err)
	}
	l.Release()
}

// A session that ends while Redis is down cannot drop its lease, which
// Redis keeps across the restart. Its own instance takes the maildrop again
// at once; the other gets in once the lease is dropped in the background,
// well before the lease period.
func TestLeaseDroppedAfterOutage(t *testing.T) {
	srv := testpeer.StartRedis(t)
	one, two := sharedSessions(t, srv, "one.example"), sharedSessions(t, srv, "two.example")
	endDuringOutage := func() {
		t.Helper()
		held, err := one.Acquire("/var/mail/u", "s1")
		if err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		held.Release()
		srv.Start()
	}

	endDuringOutage()
	l, err := one.Acquire("/var/mail/u", "s2")
	if err != nil {
		t.Fatalf("same instance after the outage: %v", err)
	}
	l.Release()

	endDuringOutage()
	deadline := time.Now().Add(lock.LeaseTTL / 3)
	for {
		l, err := two.Acquire("/var/mail/u", "s3")
		if err == nil {
			l.Release()
			break
		}
		var iu *lock.InUseError
		if !errors.As(err, &iu) || time.Now().After(deadline) {
			t.Fatalf("other instance after the outage: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
