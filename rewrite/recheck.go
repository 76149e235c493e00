package rewrite

import (
	"encoding/binary"
	"hash/maphash"
	"maps"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// recheckSize bounds the (user, legacy backend) pairs a learnRecord keeps;
// the least recently used one is forgotten first, which only costs that
// user one full learn.
const recheckSize = 100_000

// learnRecord remembers, for each user on a legacy backend, the maildrop
// that the user's last complete learn saw: every message listed had a
// fingerprint, the listing was saved, and the session deleted nothing. A
// later session that finds the same maildrop within the window skips the
// work of learning at QUIT (see Learner.Update). It is shared by every
// session of one Decorator and safe for concurrent use.
type learnRecord struct {
	window time.Duration
	seed   maphash.Seed
	now    func() time.Time
	c      *lru.Cache[recordKey, maildropState]
}

type recordKey struct{ user, backend string }

// maildropState is a legacy maildrop as a complete learn saw it.
type maildropState struct {
	count   int
	size    int64
	listing uint64 // listingSum of the UIDL listing
	at      time.Time
}

// newLearnRecord returns a record trusting a complete learn for window, or
// nil (no record: every session learns) when window is not positive.
func newLearnRecord(window time.Duration) *learnRecord {
	if window <= 0 {
		return nil
	}
	c, err := lru.New[recordKey, maildropState](recheckSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &learnRecord{window: window, seed: maphash.MakeSeed(), now: time.Now, c: c}
}

// fresh returns what the last complete learn of k saw, if it is younger
// than the window. The age counts from that learn, not from later sessions
// that relied on it, so an active user is learned in full at least once a
// window.
func (r *learnRecord) fresh(k recordKey) (maildropState, bool) {
	st, ok := r.c.Get(k)
	if !ok {
		return maildropState{}, false
	}
	age := r.now().Sub(st.at)
	return st, age >= 0 && age < r.window
}

func (r *learnRecord) remember(k recordKey, st maildropState) {
	st.at = r.now()
	r.c.Add(k, st)
}

func (r *learnRecord) forget(k recordKey) { r.c.Remove(k) }

// listingSum hashes a UIDL listing (message number -> UIDL) in message
// order. The seed is the record's own, random per process.
func (r *learnRecord) listingSum(uids map[int]string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	var num [binary.MaxVarintLen64]byte
	for _, n := range slices.Sorted(maps.Keys(uids)) {
		h.Write(binary.AppendUvarint(num[:0], uint64(n)))
		h.WriteString(uids[n])
		h.WriteByte(0) // a UIDL is printable ASCII: the separator is unambiguous
	}
	return h.Sum64()
}
