package rewrite

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/uidl"
)

// Candidate is one message of a moved user's maildrop on the new backend.
type Candidate struct {
	// UID is the new backend's unique-id.
	UID string
	// Fingerprint of the message's headers; empty when it could not be
	// computed (the message then never matches).
	Fingerprint string
}

// Resolution says what one candidate is shown as.
type Resolution struct {
	UIDL   string
	Mapped bool // UIDL is the message's legacy unique-id
}

// Match resolves the candidates of a maildrop, in maildrop order, against
// the user's legacy entries. taken holds unique-ids already shown for other
// messages of the maildrop (resolved earlier, for example from cached
// pairs); consumed holds the legacy UIDLs those messages already show.
//
// The k-th candidate with fingerprint F gets the legacy UIDL of the k-th
// present legacy entry with F, in legacy order (UIDLs shown for one message
// only before those shown for several). A candidate without a
// legacy counterpart keeps its own unique-id unless that equals a legacy
// unique-id of the user (present or gone) or one already shown; then it
// gets NewUIDL's disambiguated form. No unique-id is ever given to two
// candidates.
func Match(legacy []store.Entry, cands []Candidate, taken map[string]bool, consumed map[string]bool) []Resolution {
	byFP := map[string][]store.Entry{}
	reserved := make(map[string]bool, len(legacy))
	for _, e := range legacy {
		reserved[e.UIDL] = true
		if e.Gone || e.Fingerprint == "" || consumed[e.UIDL] {
			continue
		}
		byFP[e.Fingerprint] = append(byFP[e.Fingerprint], e)
	}
	// Entries whose UIDL the legacy server showed for one message only
	// come first, so a UIDL it showed for several (popa3d's hash of
	// messages without the hashed headers) is left to whoever needs it.
	shown := map[string]int{}
	for _, e := range legacy {
		if !e.Gone {
			shown[e.UIDL]++
		}
	}
	for _, es := range byFP {
		slices.SortFunc(es, func(a, b store.Entry) int {
			if sa, sb := shown[a.UIDL] > 1, shown[b.UIDL] > 1; sa != sb {
				if sa {
					return 1
				}
				return -1
			}
			if a.Seq != b.Seq {
				return a.Seq - b.Seq
			}
			return a.Dup - b.Dup
		})
	}
	used := make(map[string]bool, len(cands)+len(taken))
	for u := range taken {
		used[u] = true
	}
	out := make([]Resolution, len(cands))
	var unmatched []int
	for i, c := range cands {
		if u, ok := takeLegacy(byFP, c.Fingerprint, used); ok {
			used[u] = true
			out[i] = Resolution{UIDL: u, Mapped: true}
			continue
		}
		unmatched = append(unmatched, i)
	}
	// New unique-ids are settled after every legacy one is placed, so a
	// new message can never take a unique-id a known message needs.
	for _, i := range unmatched {
		u := NewUIDL(cands[i].UID, func(s string) bool { return reserved[s] || used[s] })
		used[u] = true
		out[i] = Resolution{UIDL: u}
	}
	return out
}

// takeLegacy pops the next legacy entry with fingerprint fp whose UIDL is
// not shown yet. Entries sharing a UIDL (a legacy server showed identical
// messages under one unique-id) can give it to one message only.
func takeLegacy(byFP map[string][]store.Entry, fp string, used map[string]bool) (string, bool) {
	if fp == "" {
		return "", false
	}
	es := byFP[fp]
	for len(es) > 0 {
		e := es[0]
		es = es[1:]
		if !used[e.UIDL] {
			byFP[fp] = es
			return e.UIDL, true
		}
	}
	byFP[fp] = es
	return "", false
}

// NewUIDL returns the unique-id to show for a message without a legacy
// counterpart whose backend unique-id is uid: uid itself when it is not
// taken, otherwise "n-" + uid, then "n2-" + uid, "n3-" + uid, ... The
// result depends only on uid and the taken set, so it is stable while
// that set is; an over-long result is replaced by a hash of uid.
func NewUIDL(uid string, taken func(string) bool) string {
	if !taken(uid) {
		return uid
	}
	base := uid
	for i := 1; ; i++ {
		prefix := "n-"
		if i > 1 {
			prefix = "n" + strconv.Itoa(i) + "-"
		}
		if len(prefix)+len(base) > uidl.MaxLen {
			sum := sha256.Sum256([]byte(uid))
			base = hex.EncodeToString(sum[:16])
		}
		if c := prefix + base; !taken(c) {
			return c
		}
	}
}
