package uidl

import (
	"bytes"
	"fmt"
)

// LegacyIDs are the unique-ids the legacy servers give one stored message,
// as LegacyHasher computes them; Scheme.LegacyUIDL picks one.
type LegacyIDs struct {
	// XUIDL is the first stored X-UIDL header's value; XUIDLLen is its
	// length with the line end, as qpopper 4.x bounds it.
	XUIDL    string
	XUIDLLen int
	HasXUIDL bool
	// Popa3d, QpopperHex (2.x, old-style-uid) and QpopperBase80 (3.x/4.x
	// without status updates) are the UIDLs those servers compute.
	Popa3d        string
	QpopperHex    string
	QpopperBase80 string
}

// qpopper 4.x do_drop_copy accepts a stored X-UIDL of 13 to 32 octets,
// its line end included.
const qpopperMinXUIDL, qpopperMaxXUIDL = 13, 32

// LegacyUIDL returns the UIDL the legacy server using scheme s showed for
// the message with ids, or a reason why it cannot be known.
func (s Scheme) LegacyUIDL(ids LegacyIDs) (string, error) {
	stored := func(bounded bool) (string, bool) {
		if !ids.HasXUIDL || !Valid(ids.XUIDL) {
			return "", false
		}
		if bounded && (ids.XUIDLLen < qpopperMinXUIDL || ids.XUIDLLen > qpopperMaxXUIDL) {
			return "", false
		}
		return ids.XUIDL, true
	}
	switch s {
	case Popa3d:
		return ids.Popa3d, nil
	case QpopperHex:
		if v, ok := stored(false); ok {
			return v, nil
		}
		return ids.QpopperHex, nil
	case QpopperBase80:
		if v, ok := stored(true); ok {
			return v, nil
		}
		return ids.QpopperBase80, nil
	case XUIDL, QpopperXUIDL:
		if v, ok := stored(s == QpopperXUIDL); ok {
			return v, nil
		}
		if ids.HasXUIDL {
			return "", fmt.Errorf("X-UIDL header %q not usable", ids.XUIDL)
		}
		return "", fmt.Errorf("no X-UIDL header")
	}
	return "", fmt.Errorf("scheme %q", s)
}

// LegacyHasher computes a stored mbox message's LegacyIDs the way popa3d
// and qpopper read it: the From_ line, then header lines up to the first
// line that is exactly LF (a CRLF line does not end them). It is fed the
// message's bytes in order; memory stays bounded whatever the line
// lengths.
type LegacyHasher struct {
	inFrom bool
	from   []byte
	header bool
	// hashing says the current header line is one qpopper hashes.
	hashing bool
	popa3d  *Popa3dHasher
	qpopper *qpopperHasher
	ids     LegacyIDs
}

// NewLegacyHasher returns a hasher for one message.
func NewLegacyHasher() *LegacyHasher {
	return &LegacyHasher{inFrom: true, header: true, popa3d: NewPopa3d()}
}

// Write feeds the next fragment of the message, From_ line first; start
// says whether frag begins a line, and a line may arrive in several
// fragments. It reports whether frag belongs to the header block, the LF
// line that ends it included, so that a caller can fingerprint the same
// bytes.
func (h *LegacyHasher) Write(frag []byte, start bool) (header bool) {
	if len(frag) == 0 {
		return false
	}
	if h.inFrom {
		h.from = append(h.from, frag...)
		if frag[len(frag)-1] == '\n' {
			h.inFrom = false
			h.qpopper = newQpopper(h.from)
		}
		return false
	}
	if !h.header {
		return false
	}
	if start && len(frag) == 1 && frag[0] == '\n' {
		h.header = false
		return true
	}
	h.popa3d.Write(frag, start)
	if start {
		h.hashing = frag[0] != ' ' && frag[0] != '\t' && qpopperHashes(frag)
	}
	if h.hashing {
		h.qpopper.write(frag)
	}
	if start && !h.ids.HasXUIDL {
		if v, ok := XUIDLValue(frag); ok {
			h.ids.HasXUIDL, h.ids.XUIDL = true, v
			h.ids.XUIDLLen = len(bytes.TrimLeft(frag[len("X-UIDL:"):], " \t"))
		}
	}
	return true
}

// Done reports whether the header block has ended: later bytes change
// nothing.
func (h *LegacyHasher) Done() bool { return !h.inFrom && !h.header }

// Sum returns the message's ids; call it once, after the last Write.
func (h *LegacyHasher) Sum() LegacyIDs {
	if h.qpopper == nil { // a From_ line at the end of the file
		h.qpopper = newQpopper(h.from)
	}
	old, modern := h.qpopper.sums()
	h.ids.QpopperHex = qpopperHex(old)
	h.ids.QpopperBase80 = qpopperBase80(modern)
	h.ids.Popa3d = h.popa3d.Sum()
	return h.ids
}
