package uidl

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"hash"
)

// Popa3dHasher reproduces popa3d 1.0.3's UIDL (mailbox.c mailbox_parse):
// MD5 over the raw header lines, LF included, of the first Received: (with
// its continuations), every Delivered-To:, Date: and Message-ID: only before
// any Received:, and X-Delivery-ID: (upper-case X only). The From_ line is
// not hashed.
type Popa3dHasher struct {
	h        hash.Hash
	fixed    bool
	received bool
}

// NewPopa3d returns a hasher for one message.
func NewPopa3d() *Popa3dHasher { return &Popa3dHasher{h: md5.New()} }

// Write feeds one header line fragment. start says whether the fragment
// begins a line; a line may arrive in several fragments.
func (p *Popa3dHasher) Write(frag []byte, start bool) {
	if start && len(frag) > 0 {
		switch frag[0] {
		case ' ', '\t':
			// a continuation inherits the previous line's status
		case 'R', 'r':
			p.fixed = false
			if !p.received && prefixFold(frag, "Received:") {
				p.received, p.fixed = true, true
			}
		case 'D', 'd':
			p.fixed = prefixFold(frag, "Delivered-To:") || !p.received && prefixFold(frag, "Date:")
		case 'M', 'm':
			p.fixed = !p.received && prefixFold(frag, "Message-ID:")
		case 'X':
			p.fixed = prefixFold(frag, "X-Delivery-ID:")
		default:
			p.fixed = false
		}
	}
	if p.fixed {
		p.h.Write(frag)
	}
}

// Sum returns the UIDL: the first 8 digest bytes as two little-endian
// 32-bit words, printed as 16 lowercase hex characters.
func (p *Popa3dHasher) Sum() string {
	d := p.h.Sum(nil)
	b := []byte{d[3], d[2], d[1], d[0], d[7], d[6], d[5], d[4]}
	return hex.EncodeToString(b)
}

func prefixFold(line []byte, prefix string) bool {
	return len(line) >= len(prefix) && bytes.EqualFold(line[:len(prefix)], []byte(prefix))
}
