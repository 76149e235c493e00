// Package storetest checks that a store.UIDLStore implementation keeps the
// contract, so every implementation runs the same tests.
package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/popgate/popgate/store"
)

// Run runs the contract tests against stores made by open. reopen, when not
// nil, closes and reopens the same store to check persistence.
func Run(t *testing.T, open func(t *testing.T) store.UIDLStore, reopen func(t *testing.T, s store.UIDLStore) store.UIDLStore) {
	ctx := context.Background()
	t.Run("LegacyMerge", func(t *testing.T) {
		s := open(t)
		first := []store.Entry{
			{UIDL: "a", Fingerprint: "fa", Seq: 1},
			{UIDL: "b", Seq: 2},
			{UIDL: "b", Dup: 1, Fingerprint: "fb1", Seq: 3},
		}
		if err := s.SetLegacy(ctx, "u1", first); err != nil {
			t.Fatal(err)
		}
		// a is deleted on the legacy server, b's fingerprint is learned.
		if err := s.SetLegacy(ctx, "u1", []store.Entry{{UIDL: "b", Fingerprint: "fb", Seq: 1}, {UIDL: "b", Dup: 1, Seq: 2}}); err != nil {
			t.Fatal(err)
		}
		if reopen != nil {
			s = reopen(t, s)
		}
		got, err := s.Legacy(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		sortEntries(got)
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
