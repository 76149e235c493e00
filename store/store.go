// Package store defines the persistent state behind UIDL continuity: what
// popgate learned about each user's legacy maildrop, and the pairs it
// resolved for the backend a user moved to, and the transfers each user's
// clients broke off (poison messages).
//
// The interfaces are small and key everything by user, so that a shared
// store (Redis: one hash per user for legacy entries, one per user and
// backend for pairs, one key per user for breaks) can implement them for
// several popgate instances. The
// embedded implementation is store/bolt; store/memstore is for tests.
package store

import (
	"context"
	"time"
)

// Entry is one message of a user's legacy maildrop.
type Entry struct {
	// UIDL is the unique-id the legacy server showed the user's clients.
	UIDL string
	// Dup is the occurrence index of UIDL in the listing: 0 for the first
	// message with this UIDL, 1 for the second, ... Legacy servers that hash
	// headers (popa3d) give identical messages one UIDL.
	Dup int
	// Fingerprint identifies the message's headers (see package rewrite);
	// empty while it is not known yet.
	Fingerprint string
	// Seq is the message's position in the last listing that showed it. Only
	// the order of entries matters: the k-th message with a fingerprint on
	// the legacy server maps to the k-th one on the new backend.
	Seq int
	// Gone marks a message absent from the latest listing. Its UIDL stays
	// reserved: no new message may ever be shown under it.
	Gone bool
	// Imported is when "popgate uidl import" recorded the entry from the
	// legacy spool, to the second; zero when a legacy session learned it
	// (and for records written before the store kept this). Left out of
	// JSON when zero, as most entries are, to keep a maildrop's listing short.
	Imported time.Time `json:",omitzero"`
}

// Pair is a resolved mapping for one message of a moved user's maildrop,
// keyed by the new backend's unique-id.
type Pair struct {
	// UIDL is what clients are shown.
	UIDL string
	// Mapped is true when UIDL is the message's legacy unique-id, false when
	// the message had no legacy counterpart and keeps a new one.
	Mapped bool
}

// UIDLStore holds UIDL maps. Implementations are safe for concurrent use.
type UIDLStore interface {
	// Legacy returns every entry recorded for user, in no particular order.
	Legacy(ctx context.Context, user string) ([]Entry, error)
	// SetLegacy records present as the user's current legacy maildrop.
	// Entries recorded earlier and missing from present are kept and marked
	// Gone. An entry of present without a Fingerprint keeps the fingerprint
	// recorded earlier for the same UIDL and Dup; one with a zero Imported
	// keeps the import time recorded earlier.
	SetLegacy(ctx context.Context, user string, present []Entry) error
	// Pairs returns the pairs resolved for user on backend, by new unique-id.
	Pairs(ctx context.Context, user, backend string) (map[string]Pair, error)
	// UpdatePairs adds or replaces put and removes the pairs keyed by drop
	// (messages gone from the maildrop), for user on backend.
	UpdatePairs(ctx context.Context, user, backend string, put map[string]Pair, drop []string) error
	// Users lists the users with legacy entries, sorted.
	Users(ctx context.Context) ([]string, error)
	// Close releases the store.
	Close() error
}

// MergeLegacy applies SetLegacy's rules to old, returning the new set in
// no particular order. Implementations share it so they agree.
func MergeLegacy(old, present []Entry) []Entry {
	type key struct {
		uidl string
		dup  int
	}
	byKey := make(map[key]Entry, len(old)+len(present))
	for _, e := range old {
		e.Gone = true
		byKey[key{e.UIDL, e.Dup}] = e
	}
	for _, e := range present {
		k := key{e.UIDL, e.Dup}
		if e.Fingerprint == "" {
			e.Fingerprint = byKey[k].Fingerprint
		}
		if e.Imported.IsZero() {
			e.Imported = byKey[k].Imported
		}
		e.Gone = false
		byKey[k] = e
	}
	out := make([]Entry, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, e)
	}
	return out
}

// Breaks is what popgate remembers of the transfers a user's clients broke
// off: the message the latest sessions broke on, and the messages that
// broke often enough in a row to be poison.
type Breaks struct {
	// Streak is the message the last sessions broke on; its Breaks counts
	// them. Zero when the last session ended well.
	Streak BrokenMessage `json:"streak"`
	// Poison are the messages flagged, oldest first, until an operator
	// releases them.
	Poison []BrokenMessage `json:"poison,omitempty"`
}

// BrokenMessage is one message clients failed to take whole.
type BrokenMessage struct {
	UIDL   string `json:"uidl"`
	Num    int    `json:"num"` // its number in the latest session
	Size   int64  `json:"size"`
	Breaks int    `json:"breaks"` // broken transfers in a row
	// MessageID and Subject are from its headers, when they were read.
	MessageID string `json:"message_id,omitempty"`
	Subject   string `json:"subject,omitempty"`
	// Client is the address of the last client that broke on it.
	Client string    `json:"client,omitempty"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

// Empty reports whether b remembers nothing.
func (b Breaks) Empty() bool { return b.Streak.UIDL == "" && len(b.Poison) == 0 }

// IsPoison reports whether uidl is one of b's poison messages.
func (b Breaks) IsPoison(uidl string) bool {
	for _, p := range b.Poison {
		if p.UIDL == uidl {
			return true
		}
	}
	return false
}

// BreakStore holds each user's Breaks. Implementations are safe for
// concurrent use; the last SetBreaks for a user wins.
type BreakStore interface {
	// Breaks returns what is remembered for user; the zero Breaks if
	// nothing is.
	Breaks(ctx context.Context, user string) (Breaks, error)
	// SetBreaks replaces it; the zero Breaks forgets the user.
	SetBreaks(ctx context.Context, user string, b Breaks) error
}
