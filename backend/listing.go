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
}

func newListing(d drop) *listing {
	n := d.count()
	l := &listing{infos: make([]pop3.MsgInfo, n)}
	uids := make([]string, n)
	for i := range n {
		uids[i] = d.uid(i)
	}
	uidl.Dedupe(uids)
	for i := range n {
		s := d.size(i)
		l.infos[i] = pop3.MsgInfo{Num: i + 1, Size: s, UID: uids[i]}
		l.size += s
	}
	return l
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
	if c, ok := ls.lru.Get(path); ok && c.src == src {
		return c.l
	}
	l := newListing(d)
	ls.lru.Add(path, cachedListing{src: src, l: l})
	return l
}
