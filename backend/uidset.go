package backend

import "hash/maphash"

// uidSet is a set of unique-id hashes, each with the number of the
// message it belongs to, in an open-addressed table: it tells whether a
// new unique-id may collide with one listed already, at one hash and one
// probe per message, and is copied rather than rebuilt when a listing is
// extended. Equal hashes do not prove equal unique-ids: a hit only sends
// the caller to the exact, slower path.
type uidSet struct {
	slots []uidSlot
	used  int // live and removed slots: what the probe sequences cross
}

type uidSlot struct {
	h  uint64
	at int32 // message index + 1; 0 is a free slot, -1 a removed one
}

var uidSeed = maphash.MakeSeed()

func uidHash(uid string) uint64 { return maphash.String(uidSeed, uid) }

// newUIDSet returns a set with room for n entries.
func newUIDSet(n int) *uidSet {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &uidSet{slots: make([]uidSlot, size)}
}

func (s *uidSet) has(h uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch sl := s.slots[i]; {
		case sl.at == 0:
			return false
		case sl.at > 0 && sl.h == h:
			return true
		}
	}
}

// add records message at with hash h; the caller made room (grown).
func (s *uidSet) add(h uint64, at int) {
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i].at != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = uidSlot{h: h, at: int32(at + 1)}
	s.used++
}

// remove drops message at with hash h, leaving a marker that keeps later
// entries of its probe sequence reachable.
func (s *uidSet) remove(h uint64, at int) {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; s.slots[i].at != 0; i = (i + 1) & mask {
		if s.slots[i].h == h && s.slots[i].at == int32(at+1) {
			s.slots[i].at = -1
			return
		}
	}
}

// grown returns a copy of s with room for extra more entries: the same
// table copied when it stays at most half full, else the live entries
// in a new one.
func (s *uidSet) grown(extra int) *uidSet {
	if 2*(s.used+extra) <= len(s.slots) {
		return &uidSet{slots: append([]uidSlot(nil), s.slots...), used: s.used}
	}
	n := newUIDSet(s.used + extra)
	for _, sl := range s.slots {
		if sl.at > 0 {
			n.add(sl.h, int(sl.at-1))
		}
	}
	return n
}
