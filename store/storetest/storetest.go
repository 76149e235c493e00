// Package storetest checks that a store.UIDLStore implementation keeps the
// contract, so every implementation runs the same tests.
package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/popgate/popgate/store"
)

// Run runs the contract tests against stores made by open. reopen, when not
// nil, closes and reopens the same store to check persistence.
func Run(t *testing.T, open func(t *testing.T) store.UIDLStore, reopen func(t *testing.T, s store.UIDLStore) store.UIDLStore) {
	ctx := context.Background()
	t.Run("LegacyMerge", func(t *testing.T) {
		s, got := setLegacySteps(t, open, reopen, "u1",
			[]store.Entry{
				{UIDL: "a", Fingerprint: "fa", Seq: 1},
				{UIDL: "b", Seq: 2},
				{UIDL: "b", Dup: 1, Fingerprint: "fb1", Seq: 3},
			},
			// a is deleted on the legacy server, b's fingerprint is learned.
			[]store.Entry{{UIDL: "b", Fingerprint: "fb", Seq: 1}, {UIDL: "b", Dup: 1, Seq: 2}},
		)
		want := []store.Entry{
			{UIDL: "a", Fingerprint: "fa", Seq: 1, Gone: true},
			{UIDL: "b", Fingerprint: "fb", Seq: 1},
			{UIDL: "b", Dup: 1, Fingerprint: "fb1", Seq: 2},
		}
		if !slices.Equal(got, want) {
			t.Errorf("Legacy = %+v, want %+v", got, want)
		}
		other, err := s.Legacy(ctx, "nobody")
		if err != nil || len(other) != 0 {
			t.Errorf("Legacy(nobody) = %v, %v; want nothing", other, err)
		}
		users, err := s.Users(ctx)
		if err != nil || !slices.Equal(users, []string{"u1"}) {
			t.Errorf("Users = %v, %v; want [u1]", users, err)
		}
	})
	t.Run("Provenance", func(t *testing.T) {
		imported := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		later := imported.Add(48 * time.Hour)
		_, got := setLegacySteps(t, open, reopen, "u",
			// A session learns a and b.
			[]store.Entry{{UIDL: "a", Fingerprint: "fa", Seq: 1}, {UIDL: "b", Seq: 2}},
			// An import covers b and c.
			[]store.Entry{{UIDL: "b", Fingerprint: "fb", Seq: 1, Imported: imported}, {UIDL: "c", Fingerprint: "fc", Seq: 2, Imported: imported}},
			// A session sees all three: the import times stay.
			[]store.Entry{{UIDL: "a", Seq: 1}, {UIDL: "b", Seq: 2}, {UIDL: "c", Seq: 3}},
			// A later import of c alone: a and b are gone, b stays imported.
			[]store.Entry{{UIDL: "c", Fingerprint: "fc", Seq: 1, Imported: later}},
		)
		want := []store.Entry{
			{UIDL: "a", Fingerprint: "fa", Seq: 1, Gone: true},
			{UIDL: "b", Fingerprint: "fb", Seq: 2, Gone: true, Imported: imported},
			{UIDL: "c", Fingerprint: "fc", Seq: 1, Imported: later},
		}
		if !slices.EqualFunc(got, want, sameEntry) {
			t.Errorf("Legacy = %+v, want %+v", got, want)
		}
	})
	t.Run("Pairs", func(t *testing.T) {
		s := open(t)
		if err := s.UpdatePairs(ctx, "u", "native", map[string]store.Pair{"n1": {UIDL: "L1", Mapped: true}, "n3": {UIDL: "L3"}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdatePairs(ctx, "u", "native", map[string]store.Pair{"n2": {UIDL: "n2"}}, []string{"n3", "never-stored"}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdatePairs(ctx, "u", "dovecot", map[string]store.Pair{"n1": {UIDL: "X"}}, nil); err != nil {
			t.Fatal(err)
		}
		if reopen != nil {
			s = reopen(t, s)
		}
		got, err := s.Pairs(ctx, "u", "native")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got["n1"] != (store.Pair{UIDL: "L1", Mapped: true}) || got["n2"] != (store.Pair{UIDL: "n2"}) {
			t.Errorf("Pairs(u, native) = %v", got)
		}
		if got, _ := s.Pairs(ctx, "u", "dovecot"); got["n1"].UIDL != "X" || got["n1"].Mapped {
			t.Errorf("Pairs(u, dovecot) = %v, want n1 -> X unmapped", got)
		}
		if got, _ := s.Pairs(ctx, "v", "native"); len(got) != 0 {
			t.Errorf("Pairs(v, native) = %v, want none", got)
		}
	})
}

// setLegacySteps records each listing of steps in turn as user's legacy
// maildrop in a new store, reopens it if it can, and returns it with the
// user's entries, sorted.
func setLegacySteps(t *testing.T, open func(t *testing.T) store.UIDLStore, reopen func(t *testing.T, s store.UIDLStore) store.UIDLStore,
	user string, steps ...[]store.Entry) (store.UIDLStore, []store.Entry) {
	t.Helper()
	ctx := context.Background()
	s := open(t)
	for _, present := range steps {
		if err := s.SetLegacy(ctx, user, present); err != nil {
			t.Fatal(err)
		}
	}
	if reopen != nil {
		s = reopen(t, s)
	}
	got, err := s.Legacy(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	sortEntries(got)
	return s, got
}

func sameEntry(a, b store.Entry) bool {
	return a.UIDL == b.UIDL && a.Dup == b.Dup && a.Fingerprint == b.Fingerprint && a.Seq == b.Seq &&
		a.Gone == b.Gone && a.Imported.Equal(b.Imported)
}

func sortEntries(es []store.Entry) {
	slices.SortFunc(es, func(a, b store.Entry) int {
		if a.UIDL != b.UIDL {
			if a.UIDL < b.UIDL {
				return -1
			}
			return 1
		}
		return a.Dup - b.Dup
	})
}

// RunBreaks runs the contract tests of a store.BreakStore; reopen is as
// for Run.
func RunBreaks(t *testing.T, open func(t *testing.T) store.BreakStore, reopen func(t *testing.T, s store.BreakStore) store.BreakStore) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	want := store.Breaks{
		Streak: store.BrokenMessage{UIDL: "u8", Num: 8, Size: 112254, Breaks: 2, Subject: "Invoice", First: at, Last: at.Add(time.Minute)},
		Poison: []store.BrokenMessage{{UIDL: "u3", Num: 3, Size: 9, Breaks: 3, MessageID: "<x@example.org>", Client: "192.0.2.1:5000", First: at, Last: at}},
	}
	s := open(t)
	if b, err := s.Breaks(ctx, "nobody"); err != nil || !b.Empty() {
		t.Fatalf("Breaks of an unknown user = %+v, %v; want empty", b, err)
	}
	if err := s.SetBreaks(ctx, "nina", want); err != nil {
		t.Fatal(err)
	}
	if reopen != nil {
		s = reopen(t, s)
	}
	got, err := s.Breaks(ctx, "nina")
	if err != nil {
		t.Fatal(err)
	}
	if !sameBreaks(got, want) {
		t.Errorf("Breaks = %+v, want %+v", got, want)
	}
	got.Poison[0].UIDL = "changed"
	if again, _ := s.Breaks(ctx, "nina"); !sameBreaks(again, want) {
		t.Error("changing the returned Breaks changed the store")
	}
	if other, _ := s.Breaks(ctx, "olga"); !other.Empty() {
		t.Errorf("another user has %+v", other)
	}
	if err := s.SetBreaks(ctx, "nina", store.Breaks{}); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Breaks(ctx, "nina"); err != nil || !b.Empty() {
		t.Errorf("after SetBreaks of nothing: %+v, %v", b, err)
	}
}

func sameBreaks(a, b store.Breaks) bool {
	same := func(x, y store.BrokenMessage) bool {
		return x.UIDL == y.UIDL && x.Num == y.Num && x.Size == y.Size && x.Breaks == y.Breaks &&
			x.MessageID == y.MessageID && x.Subject == y.Subject && x.Client == y.Client &&
			x.First.Equal(y.First) && x.Last.Equal(y.Last)
	}
	return same(a.Streak, b.Streak) && slices.EqualFunc(a.Poison, b.Poison, same)
}
