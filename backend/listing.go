package backend

import (
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/popgate/popgate/backend/index"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// listing is what STAT, LIST and UIDL answer for a maildrop before any
// DELE: every message with its size and its unique-id, duplicates renamed.
// It is derived from one index value and shared, read-only, by every
// session that opens the maildrop while that index is current.
type listing struct {
	infos []pop3.MsgInfo
	size  int64
	// set holds the hashes of the unique-ids when they are all distinct
	// (none was renamed), so that the listing can be extended; else nil.
	set *uidSet
}

func newListing(d drop) *listing {
	n := d.count()
	l := &listing{infos: make([]pop3.MsgInfo, n), set: newUIDSet(n)}
	for i := range n {
		uid, size := d.uid(i), d.size(i)
		l.infos[i] = pop3.MsgInfo{Num: i + 1, Size: size, UID: uid}
		l.size += size
		if h := uidHash(uid); l.set != nil && !l.set.has(h) {
			l.set.add(h, i)
		} else {
			l.set = nil // maybe a duplicate: let Dedupe decide
		}
	}
	if l.set == nil {
		uids := make([]string, n)
		for i, mi := range l.infos {
			uids[i] = mi.UID
		}
		uidl.Dedupe(uids)
		for i := range l.infos {
			l.infos[i].UID = uids[i]
		}
	}
	return l
}

// extend returns the listing of d when d is the maildrop of l with mail
// appended (its old last message may have been parsed again), so that l's
// messages but the last few are d's first ones; nil when it must be built
// afresh. Its unique-ids are those newListing would give: l's were all
// distinct, and so are the new ones, among themselves and from the kept
// ones.
func (l *listing) extend(d drop) *listing {
	n := d.count()
	if l.set == nil || n <= len(l.infos) {
		return nil
	}
	keep := 0
	for keep < len(l.infos) && l.infos[keep].UID == d.uid(keep) && l.infos[keep].Size == d.size(keep) {
		keep++
	}
	if keep < len(l.infos)/2 { // rewritten rather than appended to
		return nil
	}
	x := &listing{infos: make([]pop3.MsgInfo, n), size: l.size, set: l.set.grown(n - keep)}
	copy(x.infos, l.infos[:keep])
	for i, mi := range l.infos[keep:] {
		x.set.remove(uidHash(mi.UID), keep+i)
		x.size -= mi.Size
	}
	for i := keep; i < n; i++ {
		uid, size := d.uid(i), d.size(i)
		h := uidHash(uid)
		if x.set.has(h) {
			return nil
		}
		x.set.add(h, i)
		x.infos[i] = pop3.MsgInfo{Num: i + 1, Size: size, UID: uid}
		x.size += size
	}
	return x
}

// listings keeps the listing of each recently opened maildrop together
// with the index value it was derived from. Index values are never
// modified: a spool that changed, here or in another process, gets a new
// index value when it is next opened (under the spool lock), so a listing
// is reused exactly while its maildrop is unchanged.
type listings struct {
	lru *lru.Cache[string, cachedListing]
}

type cachedListing struct {
	src any // the index value the listing was derived from
	l   *listing
}

func newListings(size int) (*listings, error) {
	if size <= 0 {
		size = index.DefaultCacheSize
	}
	c, err := lru.New[string, cachedListing](size)
	return &listings{lru: c}, err
}

// get returns the listing of d, the maildrop at path, whose index value is
// src; a nil src (no index to key by) builds a fresh one.
func (ls *listings) get(path string, src any, d drop) *listing {
	if src == nil {
		return newListing(d)
	}
	c, ok := ls.lru.Get(path)
	if ok && c.src == src {
		return c.l
	}
	var l *listing
	if ok {
		l = c.l.extend(d)
	}
	if l == nil {
		l = newListing(d)
	}
	ls.lru.Add(path, cachedListing{src: src, l: l})
	return l
}
