package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

func TestDelegateAcceptsAndClosesWithoutUpdate(t *testing.T) {
	legacy := startFakeLegacy(t, map[string]string{"rachel": "s3cret pw"})
	d := Delegate(dialOpener(legacy.addr), DelegateOptions{Name: "qpopper"})
	if err := login(d, "rachel", "s3cret pw"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if got := legacy.session(t); got != "rachel:ok" {
		t.Errorf("legacy session = %q, want a login closed without QUIT (rachel:ok)", got)
	}
	if logins, quits := legacy.counts(); logins != 1 || quits != 0 {
		t.Errorf("legacy saw %d logins and %d QUITs, want 1 and 0", logins, quits)
	}
}

func TestDelegateRefusalAndDeadServer(t *testing.T) {
	legacy := startFakeLegacy(t, map[string]string{"rachel": "right"})
	d := Delegate(dialOpener(legacy.addr), DelegateOptions{Name: "qpopper"})
	for range 2 { // refusals are not cached: both reach the server
		err := login(d, "rachel", "wrong")
		wantRefusal(t, err, nil)
		if !strings.Contains(err.Error(), "qpopper") || !strings.Contains(err.Error(), `"rachel"`) {
			t.Errorf("refusal cause %q should name the backend and the user", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("refusal %q carries the password", err)
		}
		if got := legacy.session(t); got != "rachel:none" {
			t.Errorf("legacy session = %q, want a refused login", got)
		}
	}
	wantRefusal(t, login(d, "nobody", "x"), nil)

	dead := Delegate(dialOpener(pop3test.ClosedAddr(t)), DelegateOptions{Name: "qpopper"})
	err := login(dead, "rachel", "right")
	var pe *pop3.Error
	if !errors.As(err, &pe) || pe.Code != pop3.CodeSysTemp || !pe.Temporary() {
		t.Fatalf("dead legacy server: err = %v, want [SYS/TEMP]", err)
	}
	if errors.Is(err, pop3.ErrAuthFailed) {
		t.Errorf("dead legacy server reported as an authentication failure: %v", err)
	}
}

// A legacy [IN-USE] means the password could not be checked, not that it
// is wrong.
func TestDelegateInUseIsTemporary(t *testing.T) {
	d := Delegate(pop3.OpenerFunc(func(context.Context, pop3.Credentials) (pop3.Mailbox, error) {
		return nil, &pop3.Error{Code: pop3.CodeInUse, Text: "locked"}
	}), DelegateOptions{})
	if err := login(d, "rachel", "pw"); pop3.CodeOf(err) != pop3.CodeSysTemp {
		t.Errorf("legacy [IN-USE]: err = %v, want [SYS/TEMP]", err)
	}
}

func TestDelegateCache(t *testing.T) {
	legacy := startFakeLegacy(t, map[string]string{"rachel": "right"})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := Delegate(dialOpener(legacy.addr), DelegateOptions{
		CacheTTL: time.Minute, Now: func() time.Time { return now }})

	asks := func() int { l, _ := legacy.counts(); return l }
	if err := login(d, "rachel", "right"); err != nil {
		t.Fatal(err)
	}
	legacy.session(t)
	now = now.Add(59 * time.Second)
	if err := login(d, "rachel", "right"); err != nil || asks() != 1 {
		t.Errorf("second login within the TTL: err=%v, legacy logins=%d, want nil and 1", err, asks())
	}
	// Another password is never answered from the cache.
	wantRefusal(t, login(d, "rachel", "wrong"), nil)
	legacy.session(t)
	now = now.Add(2 * time.Second)
	if err := login(d, "rachel", "right"); err != nil || asks() != 2 {
		t.Errorf("login after the TTL: err=%v, legacy logins=%d, want nil and 2", err, asks())
	}
	legacy.session(t)

	off := Delegate(dialOpener(legacy.addr), DelegateOptions{CacheTTL: -1})
	for range 2 {
		if err := login(off, "rachel", "right"); err != nil {
			t.Fatal(err)
		}
		legacy.session(t)
	}
	if asks() != 4 {
		t.Errorf("without a cache legacy logins = %d, want 4", asks())
	}
}

// Concurrent logins of one user ask the legacy server once; without the
// per-user lock the others would hit its maildrop lock ([IN-USE]).
func TestDelegateConcurrentLoginsAskOnce(t *testing.T) {
	gate := make(chan struct{})
	var calls, inFlight atomic.Int32
	d := Delegate(pop3.OpenerFunc(func(context.Context, pop3.Credentials) (pop3.Mailbox, error) {
		calls.Add(1)
		if inFlight.Add(1) > 1 {
			inFlight.Add(-1)
			return nil, &pop3.Error{Code: pop3.CodeInUse, Text: "locked"}
		}
		<-gate
		inFlight.Add(-1)
		return connMailbox{conn: nopConn{}}, nil
	}), DelegateOptions{})

	const n = 6
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- login(d, "rachel", "pw") })
	}
	// Wait until every goroutine holds or waits for rachel's lock.
	deadline := time.Now().Add(ioTimeout)
	for refs := 0; refs < n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d logins reached the per-user lock", refs, n)
		}
		time.Sleep(time.Millisecond)
		d.users.mu.Lock()
		if l := d.users.locks["rachel"]; l != nil {
			refs = l.refs
		}
		d.users.mu.Unlock()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent login: %v", err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("legacy server asked %d times, want 1", calls.Load())
	}
	if len(d.users.locks) != 0 {
		t.Errorf("%d per-user locks left behind", len(d.users.locks))
	}
}

func TestDelegateRefusesAPOP(t *testing.T) {
	d := Delegate(pop3.OpenerFunc(func(context.Context, pop3.Credentials) (pop3.Mailbox, error) {
		return nil, errNotCalled
	}), DelegateOptions{})
	err := d.Authenticate(context.Background(), pop3.Credentials{Mechanism: pop3.MechAPOP, User: "rachel",
		Timestamp: "<1.2@x>", Digest: "c4c9334bac560ecc979e58001b3e22fb"})
	wantRefusal(t, err, ErrMechanism)
	if d.CanAPOP("rachel") || d.SupportsAPOP() {
		t.Error("a delegate claims it can check APOP")
	}
}
