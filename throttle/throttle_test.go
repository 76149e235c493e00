package throttle

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

var (
	clientA = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}
	clientB = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 40002}
)

// newTest returns a Throttle on an autoClock, with cfg changed by edit.
func newTest(t *testing.T, edit func(*Config), o Options) (*Throttle, *autoClock) {
	t.Helper()
	c := newAutoClock()
	cfg := DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	o.Now, o.Sleep = c.Now, c.Sleep
	th, err := New(cfg, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return th, c
}

// poll logs user in with a maildrop of bytes and ends the session,
// returning the Decision of the login.
func poll(t *testing.T, th *Throttle, user string, bytes int64) (Decision, error) {
	t.Helper()
	tk, err := th.AdmitUser(context.Background(), user, "legacy", clientA)
	if err != nil {
		return tk.Decision(), err
	}
	defer tk.Release()
	tk.Opened(10, bytes)
	return tk.Decision(), nil
}

func TestHogIsDelayedAndRecoversAfterCleanup(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	ctx := context.Background()
	const big = 800 << 20

	d, err := poll(t, th, "hog", big)
	if err != nil || d.Level != 0 || d.Delay != 0 {
		t.Fatalf("first login: %+v, %v; want level 0, no delay", d, err)
	}
	clock.takeSleeps()

	clock.Advance(time.Minute)
	tk, err := th.AdmitUser(ctx, "hog", "legacy", clientA)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	want := th.conf().loginDelay(tk.Decision().Level)
	if tk.Decision().Level == 0 || want == 0 {
		t.Fatalf("polling 800MB every minute: level %d, want > 0", tk.Decision().Level)
	}
	if got := clock.takeSleeps(); !slices.Equal(got, []time.Duration{want}) {
		t.Errorf("slept %v before the login, want [%s]", got, want)
	}
	dec := tk.Decision()
	if dec.Delay != want || dec.Reason != "size+frequency" {
		t.Errorf("Decision = %+v, want delay %s and reason size+frequency", dec, want)
	}
	tk.Opened(10, big)
	// The user deletes everything.
	tk.Updated(pop3.UpdateResult{DeletedMsgs: 10, DeletedBytes: big})
	tk.Release()

	clock.Advance(time.Minute)
	d, err = poll(t, th, "hog", 0)
	if err != nil || d.Level != 0 || d.Delay != 0 || d.Reason != "" {
		t.Errorf("next poll after deleting everything: %+v, %v; want full speed", d, err)
	}
	if s := clock.takeSleeps(); len(s) != 0 {
		t.Errorf("slept %v after the cleanup, want nothing", s)
	}
}

func TestHogRecoversByPollingLessOften(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	poll(t, th, "hog", 800<<20)
	clock.Advance(30 * time.Second)
	if d, _ := poll(t, th, "hog", 800<<20); d.Level == 0 {
		t.Fatalf("polling every 30s: level 0, want a penalty")
	}
	clock.Advance(th.conf().MinPollInterval)
	if d, _ := poll(t, th, "hog", 800<<20); d.Level != 0 {
		t.Errorf("polling after MinPollInterval: level %d, want 0", d.Level)
	}
}

func TestLevelSeenAtAdmitComesFromTheLastSession(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	poll(t, th, "u", 1<<20)
	clock.Advance(time.Minute)
	// Small at the last session, so admitted at level 0, but STAT now shows
	// a huge maildrop polled a minute later: the session's level rises.
	tk, err := th.AdmitUser(context.Background(), "u", "legacy", clientA)
	if err != nil || tk.Decision().Level != 0 {
		t.Fatalf("Admit: level %d, %v; want 0", tk.Decision().Level, err)
	}
	tk.Opened(10, 800<<20)
	defer tk.Release()
	if tk.Decision().Level == 0 || tk.Bandwidth() == 0 {
		t.Errorf("after a STAT of 800MB a minute later: level %d, bandwidth %d; want penalised", tk.Decision().Level, tk.Bandwidth())
	}
	st, level := th.Show("u")
	if st.Bytes != 800<<20 || st.Level != tk.Decision().Level || st.Interval != time.Minute || level == 0 {
		t.Errorf("Show = %+v, level %d", st, level)
	}
}

func TestEnforceLoginDelayRefusesAfterTheCredentials(t *testing.T) {
	th, clock := newTest(t, func(c *Config) { c.EnforceLoginDelay = true }, Options{})
	// The first poll is told LOGIN-DELAY 0, so the next one, a minute
	// later, is not refused: it is delayed and told its LOGIN-DELAY.
	poll(t, th, "hog", 800<<20)
	clock.Advance(time.Minute)
	clock.takeSleeps()
	tk, err := th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	if err != nil {
		t.Fatalf("poll after LOGIN-DELAY 0: %v, want admitted", err)
	}
	tk.Opened(10, 800<<20)
	if err := tk.Refusal(); err != nil {
		t.Fatalf("poll after LOGIN-DELAY 0 refused: %v", err)
	}
	if s := clock.takeSleeps(); len(s) == 0 || !slices.Equal(tk.Caps(), []string{"LOGIN-DELAY 300"}) {
		t.Fatalf("penalised poll: slept %v, caps %q; want a login delay and LOGIN-DELAY 300", s, tk.Caps())
	}
	tk.Release()

	// Polling again within the announced LOGIN-DELAY: admitted to the
	// password check without delay, refused only once it passed.
	clock.Advance(time.Minute)
	tk, err = th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	if err != nil {
		t.Fatalf("Admit = %v, want the refusal left for after the password", err)
	}
	if s := clock.takeSleeps(); len(s) != 0 {
		t.Errorf("slept %v before a login that will be refused", s)
	}
	tk.Opened(10, 800<<20)
	err = tk.Refusal()
	if pop3.CodeOf(err) != pop3.CodeLoginDelay || !errors.Is(err, ErrLoginTooSoon) {
		t.Fatalf("Refusal = %v, want [LOGIN-DELAY] carrying ErrLoginTooSoon", err)
	}
	if tk.Decision().Level == 0 {
		t.Errorf("refused ticket has level 0, want the hog's level for the session line")
	}
	tk.Release()
	// A wrong password gets the same answer as for anyone: no refusal.
	tk, _ = th.AdmitUser(context.Background(), "hog", "legacy", clientB)
	tk.Failed(pop3.ErrAuthFailed)
	// A refused attempt is not a login: the interval still counts from the
	// last successful one, so waiting long enough gets in.
	clock.Advance(th.conf().MinPollInterval - time.Minute)
	tk, err = th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	if err != nil {
		t.Fatal(err)
	}
	tk.Opened(10, 800<<20)
	if err := tk.Refusal(); err != nil {
		t.Errorf("login after MinPollInterval: %v", err)
	}
	tk.Release()
}

func TestLoginDelayCapabilities(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	if got := th.Caps(); !slices.Equal(got, []string{"LOGIN-DELAY 0 USER"}) {
		t.Errorf("Caps = %q", got)
	}
	poll(t, th, "hog", 800<<20)
	tk, _ := th.AdmitUser(context.Background(), "calm", "legacy", clientA)
	tk.Opened(1, 1000)
	if got := tk.Caps(); !slices.Equal(got, []string{"LOGIN-DELAY 0"}) {
		t.Errorf("Caps of a user at level 0 = %q", got)
	}
	tk.Release()
	clock.Advance(time.Minute)
	tk, _ = th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	tk.Opened(1, 800<<20)
	defer tk.Release()
	if got := tk.Caps(); !slices.Equal(got, []string{"LOGIN-DELAY 300"}) {
		t.Errorf("Caps of a penalised user = %q, want LOGIN-DELAY of MinPollInterval", got)
	}
}

// With throttling off nobody is penalised; each ticket here frees its
// session slot at once, so the backend's limit of one never holds anyone
// back (TestQueueTimeoutAnswersSysTemp shows that it still holds).
func TestModeOffPenalisesNobody(t *testing.T) {
	th, clock := newTest(t, func(c *Config) { c.Mode = ModeOff; c.EnforceLoginDelay = true },
		Options{MaxSessions: map[string]int{"legacy": 1}})
	for range 3 {
		tk, err := th.AdmitUser(context.Background(), "hog", "legacy", clientA)
		if err != nil {
			t.Fatalf("Admit: %v", err)
		}
		tk.Opened(1, 1<<40)
		tk.Failed(pop3.ErrAuthFailed)
		if d := tk.Decision(); d != (Decision{}) {
			t.Errorf("Decision = %+v with throttling off", d)
		}
		if tk.Caps() != nil || tk.Bandwidth() != 0 {
			t.Errorf("Caps %q, Bandwidth %d with throttling off", tk.Caps(), tk.Bandwidth())
		}
		clock.Advance(time.Second)
	}
	if s := clock.takeSleeps(); len(s) != 0 {
		t.Errorf("slept %v with throttling off", s)
	}
	if th.Caps() != nil {
		t.Errorf("Caps = %q with throttling off", th.Caps())
	}
}

func TestDecisionReport(t *testing.T) {
	th, _ := newTest(t, nil, Options{})
	tk := &Ticket{t: th, d: Decision{Level: 3, Delay: 1500 * time.Millisecond}}
	tk.d.addReason(ReasonSize)
	tk.d.addReason(ReasonFrequency)
	tk.d.addReason(ReasonSize)
	tk.d.addReason(ReasonQueue)
	var r session.Record
	tk.Report(&r)
	if want := (session.Throttling{Penalty: 3, Delay: 1500 * time.Millisecond, Reason: "size+frequency+queue"}); r.Throttling == nil || *r.Throttling != want {
		t.Errorf("Report gave %+v, want %+v", r.Throttling, want)
	}
}

func TestReloadKeepsTheStateAndRefusesBadSettings(t *testing.T) {
	cfg := DefaultConfig()
	th, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	next := cfg
	next.AuthFailLimit = 3
	if err := th.Reload(next); err != nil || th.conf().AuthFailLimit != 3 {
		t.Fatalf("Reload: %v, limit %d", err, th.conf().AuthFailLimit)
	}
	bad := next
	bad.AuthFailLimit = 0
	if err := th.Reload(bad); err == nil || th.conf().AuthFailLimit != 3 {
		t.Errorf("Reload of an invalid setting: %v, limit %d", err, th.conf().AuthFailLimit)
	}
	resized := next
	resized.StateSize = cfg.StateSize * 2
	if err := th.Reload(resized); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("Reload with another state size: %v", err)
	}
}
