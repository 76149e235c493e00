package throttle

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
)

// attempt admits user from client; a wrong password ends it with an [AUTH]
// failure. It returns the delay slept and Admit's error.
func attempt(t *testing.T, th *Throttle, clock *autoClock, user string, client net.Addr, right bool) (time.Duration, error) {
	t.Helper()
	clock.takeSleeps()
	tk, err := th.AdmitUser(context.Background(), user, "legacy", client)
	var slept time.Duration
	for _, d := range clock.takeSleeps() {
		slept += d
	}
	if err != nil {
		return slept, err
	}
	if right {
		tk.Opened(1, 100)
		tk.Release()
	} else {
		tk.Failed(pop3.ErrAuthFailed)
	}
	return slept, nil
}

func TestFailedLoginsGrowDelaysPerClientThenRefuse(t *testing.T) {
	th, clock := newTest(t, func(c *Config) { c.AuthFailLimit = 5 }, Options{})
	var want []time.Duration
	var got []time.Duration
	for i := range 5 {
		d, err := attempt(t, th, clock, "alice", clientA, false)
		if err != nil {
			t.Fatalf("attempt %d refused early: %v", i+1, err)
		}
		got = append(got, d)
		want = append(want, th.auth.delay(i))
	}
	// 0 before any failure, then 1s, 2s, 4s, 8s.
	if !slices.Equal(got, want) || got[0] != 0 || got[1] != time.Second || got[4] != 8*time.Second {
		t.Errorf("delays before attempts = %v, want %v", got, want)
	}
	_, err := attempt(t, th, clock, "alice", clientA, true)
	if pop3.CodeOf(err) != pop3.CodeSysTemp || !errors.Is(err, ErrTooManyFailures) {
		t.Fatalf("attempt after AuthFailLimit failures = %v, want [SYS/TEMP] refusal", err)
	}
	// The window passes; the client starts afresh.
	clock.Advance(th.conf().AuthFailWindow)
	if d, err := attempt(t, th, clock, "alice", clientA, true); err != nil || d != 0 {
		t.Errorf("after the window: delay %s, %v; want none", d, err)
	}
}

func TestFailedLoginDelayCaps(t *testing.T) {
	th, clock := newTest(t, func(c *Config) { c.AuthFailLimit = 100; c.AuthFailClientLimit = 100 }, Options{})
	var last time.Duration
	for range 20 {
		last, _ = attempt(t, th, clock, "alice", clientA, false)
	}
	if last != th.conf().AuthFailMaxDelay {
		t.Errorf("delay after 19 failures = %s, want the cap %s", last, th.conf().AuthFailMaxDelay)
	}
}

func TestWellBehavedClientIgnoresOthersFailures(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	for range th.conf().AuthFailLimit {
		attempt(t, th, clock, "alice", clientB, false)
	}
	if _, err := attempt(t, th, clock, "alice", clientB, true); err == nil {
		t.Fatal("the attacking client is still admitted")
	}
	d, err := attempt(t, th, clock, "alice", clientA, true)
	if err != nil || d != 0 {
		t.Errorf("alice's own client after an attack from elsewhere: delay %s, %v; want none", d, err)
	}
	// Alice's right password does not wipe the attacker's record.
	if _, err := attempt(t, th, clock, "alice", clientB, true); err == nil {
		t.Error("the attacking client was forgiven by alice's login")
	}
}

func TestSpreadAttackSlowsEveryFailedClient(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	// Five addresses fail once each against bob.
	for i := range 5 {
		attempt(t, th, clock, "bob", &net.TCPAddr{IP: net.IPv4(192, 0, 2, byte(i+1))}, false)
	}
	// The first address now pays for bob's five failures, not its one.
	d, _ := attempt(t, th, clock, "bob", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}, false)
	if want := th.auth.delay(5); d != want {
		t.Errorf("delay of a failed client against a user failed 5 times = %s, want %s", d, want)
	}
	// A client that failed only against someone else is not slowed for bob
	// beyond its own record against bob (none).
	attempt(t, th, clock, "carol", clientA, false)
	if d, _ := attempt(t, th, clock, "dave", clientA, true); d != 0 {
		t.Errorf("delay for an unattacked user from a client that failed elsewhere = %s, want 0", d)
	}
}

func TestClientLimitAcrossUsers(t *testing.T) {
	th, clock := newTest(t, func(c *Config) { c.AuthFailClientLimit = 12 }, Options{})
	for i := range 12 {
		attempt(t, th, clock, "user"+string(rune('a'+i)), clientA, false)
	}
	if _, err := attempt(t, th, clock, "zed", clientA, true); !errors.Is(err, ErrTooManyFailures) {
		t.Errorf("13th user from a client with 12 failures: %v, want refusal", err)
	}
	if d, err := attempt(t, th, clock, "zed", clientB, true); err != nil || d != 0 {
		t.Errorf("another client: delay %s, %v; want none", d, err)
	}
}

func TestOnlyAuthErrorsCount(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	for range 3 {
		tk, err := th.AdmitUser(context.Background(), "alice", "legacy", clientA)
		if err != nil {
			t.Fatal(err)
		}
		tk.Failed(pop3.ErrBackendTemporary)
	}
	if d, _ := attempt(t, th, clock, "alice", clientA, true); d != 0 {
		t.Errorf("delay after backend errors = %s, want 0", d)
	}
}

func TestRightPasswordClearsOwnRecord(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	attempt(t, th, clock, "alice", clientA, false)
	attempt(t, th, clock, "alice", clientA, false)
	if d, err := attempt(t, th, clock, "alice", clientA, true); err != nil || d == 0 {
		t.Fatalf("after two typos: delay %s, %v; want a delay", d, err)
	}
	if d, _ := attempt(t, th, clock, "alice", clientA, true); d != 0 {
		t.Errorf("after a success: delay %s, want her typos forgiven", d)
	}
	// The attacker's failures against alice are not forgiven by her login.
	attempt(t, th, clock, "alice", clientB, false)
	attempt(t, th, clock, "alice", clientB, false)
	attempt(t, th, clock, "alice", clientA, true)
	if d, _ := attempt(t, th, clock, "alice", clientB, false); d != th.auth.delay(2) {
		t.Errorf("attacker after alice's login: delay %s, want %s", d, th.auth.delay(2))
	}
}

func TestClientKeyIgnoresThePort(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5000}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 110}, "2001:db8::1"},
		{&net.UnixAddr{Name: "/run/popgate.sock", Net: "unix"}, "/run/popgate.sock"},
		{nil, ""},
	} {
		if got := clientKey(tc.addr); got != tc.want {
			t.Errorf("clientKey(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// The failed-login delay and the login delay are slept at once but
// reported apart, and add up to Delay.
func TestDecisionSplitsTheDelay(t *testing.T) {
	th, clock := newTest(t, func(c *Config) { c.SoftMsgs = 10 }, Options{})
	if _, err := attempt(t, th, clock, "hog", clientA, true); err != nil { // remembers a large maildrop
		t.Fatal(err)
	}
	tk, err := th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	if err != nil {
		t.Fatal(err)
	}
	tk.Opened(1000, 1<<20)
	tk.Release()
	if _, err := attempt(t, th, clock, "hog", clientA, false); err != nil {
		t.Fatal(err)
	}
	clock.takeSleeps()
	tk, err = th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Release()
	d := tk.Decision()
	wantLogin := th.conf().loginDelay(d.Level)
	if d.AuthFailDelay != th.auth.delay(1) || d.LoginDelay != wantLogin || wantLogin == 0 ||
		d.QueueWait != 0 || d.Delay != d.AuthFailDelay+d.LoginDelay {
		t.Errorf("Decision = %+v; want auth-fail delay %s and login delay %s", d, th.auth.delay(1), wantLogin)
	}
}

func TestAuthFailuresForOperators(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	for _, c := range []net.Addr{clientA, clientA, clientB} {
		if _, err := attempt(t, th, clock, "alice", c, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := th.AuthFailures("alice"); got != 3 {
		t.Errorf("AuthFailures = %d, want 3 from both clients", got)
	}
	clock.Advance(th.conf().AuthFailWindow)
	if got := th.AuthFailures("alice"); got != 0 {
		t.Errorf("after the window: %d, want 0", got)
	}
}

func TestParallelGuessesVerifyAtMostTheLimit(t *testing.T) {
	th, _ := newTest(t, nil, Options{})
	// Every guess is admitted before any verdict is known, as when a
	// thousand connections send PASS at once.
	var admitted []*Ticket
	refused := 0
	for range 1000 {
		tk, err := th.AdmitUser(context.Background(), "alice", "legacy", clientB)
		if err != nil {
			if !errors.Is(err, ErrTooManyFailures) || tk.Decision().Reason != ReasonAuthFailures {
				t.Fatalf("refusal = %v (%v), want too many failures", err, tk.Decision())
			}
			tk.Release()
			refused++
			continue
		}
		admitted = append(admitted, tk)
	}
	if len(admitted) != th.conf().AuthFailLimit || refused != 1000-th.conf().AuthFailLimit {
		t.Fatalf("admitted %d and refused %d of 1000 parallel guesses, want %d admitted", len(admitted), refused, th.conf().AuthFailLimit)
	}
	for _, tk := range admitted {
		tk.Failed(pop3.ErrAuthFailed)
	}
	if _, err := th.AdmitUser(context.Background(), "alice", "legacy", clientB); !errors.Is(err, ErrTooManyFailures) {
		t.Errorf("guess after the limit failed: %v, want refusal", err)
	}
	// The owner elsewhere is neither delayed nor refused.
	tk, err := th.AdmitUser(context.Background(), "alice", "legacy", clientA)
	if err != nil || tk.Decision().Delay != 0 {
		t.Fatalf("owner from another address: %v, %v; want straight in", err, tk.Decision())
	}
	tk.Opened(1, 100)
	tk.Release()
}

func TestAbandonedAttemptsFreeTheirPlace(t *testing.T) {
	th, clock := newTest(t, func(c *Config) { c.AuthFailLimit = 2 }, Options{})
	for range 10 {
		tk, err := th.AdmitUser(context.Background(), "alice", "legacy", clientA)
		if err != nil {
			t.Fatal(err)
		}
		tk.Failed(pop3.ErrBackendTemporary)
	}
	for range 10 {
		if _, err := attempt(t, th, clock, "alice", clientA, true); err != nil {
			t.Fatalf("successful logins after abandoned ones: %v", err)
		}
	}
	if n := len(th.auth.pairIn) + len(th.auth.clientIn) + len(th.auth.networkIn); n != 0 {
		t.Errorf("%d attempts still in flight after every ticket ended", n)
	}
}

func TestNetworkLimitSpansAddresses(t *testing.T) {
	th, clock := newTest(t, func(c *Config) {
		c.AuthFailLimit, c.AuthFailClientLimit, c.AuthFailNetworkLimit = 2, 2, 6
	}, Options{})
	// Three addresses in 198.51.100.0/24 fail twice each: each is under
	// its own limit, together they reach the network's.
	for i := range 3 {
		for range 2 {
			attempt(t, th, clock, "bob", &net.TCPAddr{IP: net.IPv4(198, 51, 100, byte(i+1))}, false)
		}
	}
	if _, err := attempt(t, th, clock, "bob", &net.TCPAddr{IP: net.IPv4(198, 51, 100, 200)}, true); !errors.Is(err, ErrTooManyFailures) {
		t.Errorf("fresh address in the attacking /24: %v, want refusal", err)
	}
	if _, err := attempt(t, th, clock, "bob", &net.TCPAddr{IP: net.IPv4(198, 51, 101, 1)}, true); err != nil {
		t.Errorf("address in the next /24: %v, want admitted", err)
	}
}

func TestNetworkOf(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct{ client, want string }{
		{"192.0.2.7", "192.0.2.0/24"},
		{"::ffff:192.0.2.7", "192.0.2.0/24"},
		{"2001:db8:1:2::1", "2001:db8:1::/48"},
		{"fe80::1%eth0", "fe80::/48"},
		{"/run/popgate.sock", "/run/popgate.sock"},
	} {
		if got := cfg.networkOf(tc.client); got != tc.want {
			t.Errorf("networkOf(%q) = %q, want %q", tc.client, got, tc.want)
		}
	}
}
