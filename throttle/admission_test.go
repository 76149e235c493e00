package throttle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// queueTest is a Throttle whose "legacy" backend has max sessions, on a
// manual clock, with no login delay so that only the queue waits. The
// users named "hog*" have a remembered penalty.
func queueTest(t *testing.T, max int) (*Throttle, *manualClock) {
	return queueTestMode(t, max, ModeOn)
}

func queueTestMode(t *testing.T, max int, mode Mode) (*Throttle, *manualClock) {
	t.Helper()
	c := newManualClock()
	cfg := DefaultConfig()
	cfg.Mode = mode
	cfg.DelayPerLevel = 0
	state, _ := NewLRUState(100)
	for _, u := range []string{"hog1", "hog2"} {
		state.Put(u, UserState{LastLogin: epoch.Add(-time.Minute), Msgs: 10, Bytes: 800 << 20})
	}
	th, err := New(cfg, Options{Now: c.Now, Sleep: c.Sleep, State: state, MaxSessions: map[string]int{"legacy": max}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return th, c
}

type admitted struct {
	user string
	tk   *Ticket
	err  error
}

// admitAsync admits user in a goroutine, reporting on out.
func admitAsync(ctx context.Context, wg *sync.WaitGroup, th *Throttle, user string, out chan<- admitted) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk, err := th.AdmitUser(ctx, user, "legacy", clientA)
		out <- admitted{user, tk, err}
	}()
}

func next(t *testing.T, out <-chan admitted) admitted {
	t.Helper()
	select {
	case a := <-out:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no login was admitted")
		return admitted{}
	}
}

func TestQueueAdmitsLowerLevelsFirstThenFIFO(t *testing.T) {
	th, _ := queueTest(t, 1)
	ctx := context.Background()
	first, err := th.AdmitUser(ctx, "first", "legacy", clientA)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan admitted, 5)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Arrival order: hog1, alice, hog2, bob.
	for i, u := range []string{"hog1", "alice", "hog2", "bob"} {
		admitAsync(ctx, &wg, th, u, out)
		pop3test.Eventually(t, u+" waits", func() bool { _, w := th.Sessions("legacy"); return w == i+1 })
	}
	if active, _ := th.Sessions("legacy"); active != 1 {
		t.Fatalf("active = %d, want 1", active)
	}
	release := first.Release
	for _, want := range []string{"alice", "bob", "hog1", "hog2"} {
		release()
		a := next(t, out)
		if a.err != nil || a.user != want {
			t.Fatalf("admitted %s (%v), want %s", a.user, a.err, want)
		}
		if d := a.tk.Decision(); !containsReason(d.Reason, ReasonQueue) {
			t.Errorf("%s: reason %q, want it to include queue", a.user, d.Reason)
		}
		if active, _ := th.Sessions("legacy"); active != 1 {
			t.Errorf("active = %d after handing over, want 1", active)
		}
		release = a.tk.Release
	}
	release()
	if active, waiting := th.Sessions("legacy"); active != 0 || waiting != 0 {
		t.Errorf("after all released: active %d, waiting %d", active, waiting)
	}
}

func containsReason(reason, r string) bool {
	return slices.Contains(strings.Split(reason, "+"), r)
}

func TestQueueTimeoutAnswersSysTemp(t *testing.T) {
	for _, mode := range []Mode{ModeOn, ModeOff} {
		t.Run(string(mode), func(t *testing.T) { testQueueTimeout(t, mode) })
	}
}

// testQueueTimeout: a backend's session limit holds with throttling off
// too, which only stops the penalties.
func testQueueTimeout(t *testing.T, mode Mode) {
	th, clock := queueTestMode(t, 1, mode)
	ctx := context.Background()
	holder, err := th.AdmitUser(ctx, "holder", "legacy", clientA)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan admitted, 1)
	var wg sync.WaitGroup
	admitAsync(ctx, &wg, th, "late", out)
	pop3test.Eventually(t, "the timeout timer runs", func() bool { return clock.sleeping() == 1 })
	clock.Advance(th.conf().QueueTimeout - time.Second)
	clock.Advance(time.Second)
	a := next(t, out)
	wg.Wait()
	var pe *pop3.Error
	if !errors.As(a.err, &pe) || pe.Code != pop3.CodeSysTemp || !errors.Is(a.err, ErrQueueTimeout) {
		t.Fatalf("Admit after the queue timeout = %v, want [SYS/TEMP] with ErrQueueTimeout", a.err)
	}
	if d := a.tk.Decision(); d.Delay != th.conf().QueueTimeout || d.QueueWait != d.Delay {
		t.Errorf("Delay = %s, QueueWait = %s; want both the queue timeout %s", d.Delay, d.QueueWait, th.conf().QueueTimeout)
	}
	if active, waiting := th.Sessions("legacy"); active != 1 || waiting != 0 {
		t.Errorf("after the timeout: active %d, waiting %d; want 1, 0", active, waiting)
	}
	holder.Release()
	holder.Release()
	if active, _ := th.Sessions("legacy"); active != 0 {
		t.Errorf("after a double release: active %d, want 0", active)
	}
}

func TestQueueWaitEndsWithContext(t *testing.T) {
	th, _ := queueTest(t, 1)
	holder, _ := th.AdmitUser(context.Background(), "holder", "legacy", clientA)
	defer holder.Release()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan admitted, 1)
	var wg sync.WaitGroup
	admitAsync(ctx, &wg, th, "gone", out)
	pop3test.Eventually(t, "the login waits", func() bool { _, w := th.Sessions("legacy"); return w == 1 })
	cancel()
	a := next(t, out)
	wg.Wait()
	if !errors.Is(a.err, context.Canceled) {
		t.Errorf("Admit after cancel = %v, want context.Canceled", a.err)
	}
	if _, w := th.Sessions("legacy"); w != 0 {
		t.Errorf("waiting = %d after cancel", w)
	}
}

func TestQueueNeverExceedsMaxSessions(t *testing.T) {
	const max, logins = 3, 40
	th, _ := queueTest(t, max)
	var inside, peak atomic.Int32
	var wg sync.WaitGroup
	for i := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Several users: logins waiting for a slot count as logins in
			// flight, and more than AuthFailLimit of one user from one
			// address would be refused.
			user := fmt.Sprintf("user%d", i%5)
			if i%8 == 0 {
				user = "hog1"
			}
			tk, err := th.AdmitUser(context.Background(), user, "legacy", clientA)
			if err != nil {
				t.Errorf("Admit: %v", err)
				return
			}
			n := inside.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			inside.Add(-1)
			tk.Release()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > max || p < 1 {
		t.Errorf("peak concurrent sessions = %d, want 1..%d", p, max)
	}
	if active, waiting := th.Sessions("legacy"); active != 0 || waiting != 0 {
		t.Errorf("at the end: active %d, waiting %d", active, waiting)
	}
}

func TestUnlimitedBackendNeverQueues(t *testing.T) {
	th, _ := queueTest(t, 1)
	var tickets []*Ticket
	for range 20 {
		tk, err := th.AdmitUser(context.Background(), "u", "native", clientA)
		if err != nil {
			t.Fatal(err)
		}
		// Logged in: the session no longer counts as a login in flight.
		tk.Opened(0, 0)
		tickets = append(tickets, tk)
	}
	if active, _ := th.Sessions("native"); active != 20 {
		t.Errorf("active = %d, want 20", active)
	}
	for _, tk := range tickets {
		tk.Release()
	}
}

func TestPenalisedSessionsShareAQuarterOfTheSlots(t *testing.T) {
	th, _ := queueTest(t, 8) // hogs may hold 2 slots together
	ctx := context.Background()
	th.state.Put("hog3", UserState{LastLogin: epoch.Add(-time.Minute), Msgs: 10, Bytes: 800 << 20})
	var hogs []*Ticket
	for _, u := range []string{"hog1", "hog2"} {
		tk, err := th.AdmitUser(ctx, u, "legacy", clientA)
		if err != nil || tk.Decision().Level == 0 {
			t.Fatalf("Admit(%s): level %d, %v", u, tk.Decision().Level, err)
		}
		hogs = append(hogs, tk)
	}
	out := make(chan admitted, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	admitAsync(ctx, &wg, th, "hog3", out)
	pop3test.Eventually(t, "hog3 waits", func() bool { _, w := th.Sessions("legacy"); return w == 1 })
	if active, _ := th.Sessions("legacy"); active != 2 {
		t.Fatalf("active = %d, want 2: the hogs' share is full", active)
	}
	var calm []*Ticket
	for range 6 {
		tk, err := th.AdmitUser(ctx, "alice", "legacy", clientA)
		if err != nil || containsReason(tk.Decision().Reason, ReasonQueue) {
			t.Fatalf("alice at level 0: %+v, %v; want a slot at once", tk.Decision(), err)
		}
		calm = append(calm, tk)
	}
	for _, tk := range calm {
		tk.Release()
	}
	// Release hands slots on synchronously, so the counts are final.
	if active, waiting := th.Sessions("legacy"); active != 2 || waiting != 1 {
		t.Fatalf("with free slots but the hogs' share full: active %d, waiting %d; want hog3 still waiting", active, waiting)
	}
	hogs[0].Release()
	a := next(t, out)
	if a.err != nil || a.user != "hog3" {
		t.Fatalf("after a hog left: %s, %v; want hog3 admitted", a.user, a.err)
	}
	for _, tk := range append(hogs[1:], a.tk) {
		tk.Release()
	}
	if active, waiting := th.Sessions("legacy"); active != 0 || waiting != 0 {
		t.Errorf("at the end: active %d, waiting %d", active, waiting)
	}
}

func TestSlotIsReleasedAtTheLevelItWasTakenAt(t *testing.T) {
	th, clock := newTest(t, nil, Options{MaxSessions: map[string]int{"legacy": 4}})
	poll(t, th, "hog", 800<<20)
	clock.Advance(time.Minute)
	tk, err := th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	if err != nil || tk.Decision().Level == 0 {
		t.Fatalf("Admit: level %d, %v", tk.Decision().Level, err)
	}
	tk.Opened(1, 10) // the hog cleaned up elsewhere: level 0 now
	tk.Release()
	s := th.slotsFor("legacy")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != 0 || s.penalised != 0 {
		t.Errorf("after release: active %d, penalised %d; want 0, 0", s.active, s.penalised)
	}
}
