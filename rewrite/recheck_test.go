package rewrite

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/memstore"
)

// countingStore counts the reads and writes of legacy entries.
type countingStore struct {
	store.UIDLStore
	reads, writes atomic.Int64
}

func (s *countingStore) Legacy(ctx context.Context, user string) ([]store.Entry, error) {
	s.reads.Add(1)
	return s.UIDLStore.Legacy(ctx, user)
}

func (s *countingStore) SetLegacy(ctx context.Context, user string, present []store.Entry) error {
	s.writes.Add(1)
	return s.UIDLStore.SetLegacy(ctx, user, present)
}

// fakeClock is a learnRecord clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recheckEnv is a Decorator over a counting store, with a clock the test
// moves.
type recheckEnv struct {
	t     *testing.T
	d     *Decorator
	st    *countingStore
	clock *fakeClock
}

func newRecheckEnv(t *testing.T, o Options) *recheckEnv {
	st := &countingStore{UIDLStore: memstore.New()}
	o.Store = st
	e := &recheckEnv{t: t, d: &Decorator{Options: o, IsLegacy: LegacyNamed("legacy")}, st: st,
		clock: &fakeClock{now: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}}
	if rec := e.d.record(); rec != nil {
		rec.now = e.clock.Now
	}
	return e
}

// sessionCost is what one session's QUIT cost: UIDL and TOP commands on
// the legacy server and store calls.
type sessionCost struct {
	uidl, top, reads, writes int
	unchanged                bool
}

// session runs one session of user over m: client plays the client's
// commands, then the client quits. It may run in any goroutine.
func (e *recheckEnv) session(user string, m *pop3test.Mailbox, client func(l *Learner)) sessionCost {
	e.t.Helper()
	ctx := context.Background()
	reads, writes := e.st.reads.Load(), e.st.writes.Load()
	l, ok := e.d.wrap(m, user, "legacy").(*Learner)
	if !ok {
		e.t.Error("legacy session not learned from")
		return sessionCost{}
	}
	if client != nil {
		client(l)
	}
	if _, err := l.Update(ctx); err != nil || !m.Updated() {
		e.t.Errorf("QUIT did not reach the legacy server: %v", err)
	}
	c := sessionCost{reads: int(e.st.reads.Load() - reads), writes: int(e.st.writes.Load() - writes)}
	for _, call := range m.Calls() {
		switch call {
		case "Uidl":
			c.uidl++
		case "Top":
			c.top++
		}
	}
	c.unchanged = report(l).Learning.Unchanged
	return c
}

func (e *recheckEnv) skipped(c sessionCost) bool {
	return c.unchanged && c.uidl == 0 && c.top == 0 && c.reads == 0 && c.writes == 0
}

// learnedInFull reports a session that listed, read the store and saved.
func (e *recheckEnv) learnedInFull(c sessionCost) bool {
	return !c.unchanged && c.uidl > 0 && c.reads == 1 && c.writes == 1
}

func listUIDL(t *testing.T) func(l *Learner) {
	return func(l *Learner) {
		if _, err := l.Uidl(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnchangedMaildropSkipsLearning(t *testing.T) {
	e := newRecheckEnv(t, Options{})
	first := e.session("alice", legacyMailbox(5), nil)
	if !e.learnedInFull(first) || first.top != 5 {
		t.Fatalf("first session %+v, want a full learn with 5 TOPs", first)
	}
	second := e.session("alice", legacyMailbox(5), nil)
	if !e.skipped(second) {
		t.Errorf("second session of an unchanged maildrop %+v, want no UIDL, TOP, store read or write", second)
	}
	// A client that lists UIDL itself and sees the same listing.
	listed := e.session("alice", legacyMailbox(5), listUIDL(t))
	if !listed.unchanged || listed.uidl != 1 || listed.top != 0 || listed.reads != 0 || listed.writes != 0 {
		t.Errorf("session listing the same UIDLs %+v, want only the client's UIDL", listed)
	}
	// The record is per user and per backend.
	if other := e.session("bob", legacyMailbox(5), nil); !e.learnedInFull(other) {
		t.Errorf("another user's first session %+v, want a full learn", other)
	}
	if fps := fingerprints(t, e.st, "alice"); len(fps) != 5 || fps["legacy-5"] == "" {
		t.Errorf("alice's map %v, want 5 fingerprinted UIDLs", fps)
	}
}

func TestChangedMaildropIsLearned(t *testing.T) {
	renamed := legacyMailbox(5) // same messages, one UIDL changed
	renamed.UIDs[4] = "legacy-x"
	grown := legacyMailbox(5) // as many messages, one of them longer
	grown.Messages[4] = append(grown.Messages[4], "more\r\n"...)
	cases := []struct {
		name   string
		m      *pop3test.Mailbox
		client func(t *testing.T, l *Learner)
		wait   time.Duration
	}{
		{name: "new message", m: legacyMailbox(6)},
		{name: "message removed", m: legacyMailbox(4)},
		{name: "size changed", m: grown},
		{name: "window passed", m: legacyMailbox(5), wait: DefaultRecheck},
		{name: "listing differs", m: renamed, client: func(t *testing.T, l *Learner) { listUIDL(t)(l) }},
		{name: "deletes", m: legacyMailbox(5), client: func(t *testing.T, l *Learner) {
			if err := l.Dele(context.Background(), 5); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newRecheckEnv(t, Options{})
			if c := e.session("carol", legacyMailbox(5), nil); !e.learnedInFull(c) {
				t.Fatalf("first session %+v, want a full learn", c)
			}
			e.clock.Add(tc.wait)
			var client func(*Learner)
			if tc.client != nil {
				client = func(l *Learner) { tc.client(t, l) }
			}
			if c := e.session("carol", tc.m, client); !e.learnedInFull(c) {
				t.Errorf("session %+v, want a full learn", c)
			}
		})
	}
}

// retrieve is a client that retrieves message n.
func retrieve(t *testing.T, n int) func(l *Learner) {
	return func(l *Learner) {
		drain(t, func() (io.ReadCloser, error) { return l.Retr(context.Background(), n) })
	}
}

// A client that retrieves messages already learned changes nothing: one
// store read shows it, and the listing and the save are skipped. A message
// replaced by another of the same size shows itself when retrieved.
func TestRetrievingKnownMessagesSkipsLearning(t *testing.T) {
	e := newRecheckEnv(t, Options{})
	e.session("rita", legacyMailbox(5), nil)
	c := e.session("rita", legacyMailbox(5), retrieve(t, 2))
	if !c.unchanged || c.uidl != 0 || c.top != 0 || c.reads != 1 || c.writes != 0 {
		t.Errorf("retrieving a known message %+v, want one store read and nothing else", c)
	}
	replaced := legacyMailbox(5)
	replaced.Messages[1] = []byte(strings.Replace(testMessage(2), "<m2@", "<x2@", 1))
	replaced.UIDs[1] = "legacy-x2"
	// Two store reads: the check, then the learn's own.
	if c := e.session("rita", replaced, retrieve(t, 2)); c.unchanged || c.uidl != 1 || c.reads != 2 || c.writes != 1 {
		t.Errorf("retrieving a same-size replacement %+v, want a full learn", c)
	}
	if fps := fingerprints(t, e.st, "rita"); fps["legacy-x2"] == "" {
		t.Errorf("replacement not learned: %v", fps)
	}
}

// The documented risk: a message replaced outside popgate by another of
// the same size, in sessions whose client does not list, is learned once
// the window has passed.
func TestSameSizeReplacementWaitsForTheWindow(t *testing.T) {
	e := newRecheckEnv(t, Options{})
	e.session("ivy", legacyMailbox(5), nil)
	replaced := func() *pop3test.Mailbox {
		m := legacyMailbox(5)
		m.Messages[4] = []byte(strings.Replace(testMessage(5), "<m5@", "<x5@", 1))
		m.UIDs[4] = "legacy-x5"
		return m
	}
	if c := e.session("ivy", replaced(), nil); !e.skipped(c) {
		t.Fatalf("same STAT within the window %+v, want the shortcut", c)
	}
	e.clock.Add(DefaultRecheck)
	if c := e.session("ivy", replaced(), nil); !e.learnedInFull(c) || c.top != 1 {
		t.Errorf("after the window %+v, want a full learn fetching the new message", c)
	}
	if fps := fingerprints(t, e.st, "ivy"); fps["legacy-x5"] == "" {
		t.Errorf("replacement not learned: %v", fps)
	}
}

func TestDeletingSessionForgetsTheRecord(t *testing.T) {
	e := newRecheckEnv(t, Options{})
	e.session("dan", legacyMailbox(5), nil)
	// The client deletes message 5 but the legacy server keeps it (a
	// failed commit, or the same STAT again by chance): the next session
	// must not trust the learn from before the deletion.
	e.session("dan", legacyMailbox(5), func(l *Learner) {
		if err := l.Dele(context.Background(), 5); err != nil {
			t.Fatal(err)
		}
	})
	if c := e.session("dan", legacyMailbox(5), nil); !e.learnedInFull(c) {
		t.Errorf("session after a deleting one %+v, want a full learn", c)
	}
	if c := e.session("dan", legacyMailbox(5), nil); !e.skipped(c) {
		t.Errorf("next session %+v, want the shortcut again", c)
	}
}

func TestIncompleteLearnIsNotTrusted(t *testing.T) {
	e := newRecheckEnv(t, Options{Budget: 2})
	for session := 1; session <= 3; session++ {
		c := e.session("erin", legacyMailbox(5), nil)
		if !e.learnedInFull(c) || c.top != min(2, 5-2*(session-1)) {
			t.Fatalf("session %d %+v, want a full learn while messages lack fingerprints", session, c)
		}
	}
	// The third session fetched the last message: its learn was complete.
	if c := e.session("erin", legacyMailbox(5), nil); !e.skipped(c) {
		t.Errorf("session after the complete learn %+v, want the shortcut", c)
	}
}

func TestFailedSaveIsNotTrusted(t *testing.T) {
	e := newRecheckEnv(t, Options{})
	e.st.UIDLStore = failingWrites{memstore.New()}
	e.session("fay", legacyMailbox(3), nil)
	if c := e.session("fay", legacyMailbox(3), nil); c.unchanged {
		t.Errorf("session after a failed save %+v, want a full learn", c)
	}
}

type failingWrites struct{ store.UIDLStore }

func (failingWrites) SetLegacy(context.Context, string, []store.Entry) error {
	return fmt.Errorf("disk full")
}

func TestRecheckOff(t *testing.T) {
	e := newRecheckEnv(t, Options{Recheck: -1})
	for range 2 {
		if c := e.session("gus", legacyMailbox(3), nil); !e.learnedInFull(c) {
			t.Errorf("session with Recheck off %+v, want a full learn", c)
		}
	}
	if d := NewDecorator(Options{Store: memstore.New(), Recheck: -1}, "legacy"); d.record() != nil {
		t.Errorf("Recheck -1 kept a record")
	}
	d := NewDecorator(Options{Store: memstore.New(), Recheck: time.Minute}, "legacy")
	if rec := d.record(); rec == nil || rec.window != time.Minute {
		t.Errorf("Recheck 1m: record %+v, want a 1m window", rec)
	}
}

func TestConcurrentSessionsShareTheRecord(t *testing.T) {
	e := newRecheckEnv(t, Options{})
	const users, sessions = 8, 20
	var wg sync.WaitGroup
	for u := range users {
		user := fmt.Sprintf("user%d", u)
		// One user's sessions follow each other, as a legacy server's
		// maildrop lock makes them; different users run in parallel.
		wg.Go(func() {
			for range sessions {
				e.session(user, legacyMailbox(4), nil)
			}
		})
		// Sessions of one more user overlap, some deleting.
		wg.Go(func() {
			m := legacyMailbox(4)
			e.session("shared", m, func(l *Learner) {
				if u%2 == 0 {
					l.Dele(context.Background(), 1)
				}
			})
		})
	}
	wg.Wait()
	// Each user of the first kind was learned once, then skipped.
	if w := e.st.writes.Load(); w < users || w > users+users {
		t.Errorf("%d store writes, want %d to %d", w, users, 2*users)
	}
	for u := range users {
		if fps := fingerprints(t, e.st, fmt.Sprintf("user%d", u)); len(fps) != 4 {
			t.Errorf("user%d: %v", u, fps)
		}
	}
}

// A Learner made by Learn alone has no record and learns at every QUIT.
func TestLearnAloneAlwaysLearns(t *testing.T) {
	st := &countingStore{UIDLStore: memstore.New()}
	for range 2 {
		l := Learn(legacyMailbox(3), "hal", "legacy", Options{Store: st})
		if _, err := l.Update(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if st.writes.Load() != 2 {
		t.Errorf("%d store writes, want 2", st.writes.Load())
	}
}
