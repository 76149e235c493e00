package lock_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/store/redis"
)

// Two instances (each its own Sessions, no shared directory) keep one
// session per maildrop through Redis leases.
func TestLeasesSpanInstances(t *testing.T) {
	srv := testpeer.StartRedis(t)
	instance := func(name string) *lock.Sessions {
		st, err := redis.Open(context.Background(), srv.URL(0), "p:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s, err := lock.NewSessions("")
		if err != nil {
			t.Fatal(err)
		}
		s.ShareThrough(st.Leases(), name)
		return s
	}
	one, two := instance("one.example"), instance("two.example")
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
