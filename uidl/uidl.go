// Package uidl holds what popgate knows about POP3 unique-ids (RFC 1939
// section 7): their syntax (Valid, Dedupe) and every scheme that derives
// one from a stored message, popgate's own and the legacy servers'
// (popa3d's header hash, qpopper's stored X-UIDL header and its computed
// hashes). Every scheme is derived from the message itself, so losing an
// index never changes a UIDL.
package uidl

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

// Scheme names how a message's unique-id is computed. The native backend
// serves Native, XUIDL and Popa3d; an import from a legacy spool knows
// every scheme but Native.
type Scheme string

// The schemes.
const (
	// Native is a SHA-256 over the message's From_ line and bytes.
	Native Scheme = "native"
	// XUIDL is the first stored X-UIDL header (qpopper's), as qpopper 2.x
	// and Dovecot with pop3_reuse_xuidl serve it. Where it is missing or
	// not RFC 1939 form, the native backend falls back to Native and an
	// import has no legacy UIDL.
	XUIDL Scheme = "xuidl"
	// Popa3d is popa3d 1.0's MD5 over selected header lines.
	Popa3d Scheme = "popa3d"
	// QpopperXUIDL is a default qpopper 3.x/4.x: computed UIDLs are random
	// per session, so only stored X-UIDL headers qpopper 4.x accepts (13
	// to 32 octets with the line end) are known.
	QpopperXUIDL Scheme = "qpopper-xuidl"
	// QpopperHex is qpopper 2.x (and 4.x old-style-uid without stored
	// values): a stored X-UIDL wins, otherwise 32 hex of the MD5.
	QpopperHex Scheme = "qpopper-hex"
	// QpopperBase80 is qpopper 3.x/4.x with update-status-headers off: a
	// stored X-UIDL within 4.x's bounds wins, otherwise the deterministic
	// base80 hash.
	QpopperBase80 Scheme = "qpopper-base80"
	// Auto is no scheme of its own: an import settles it per spool, as
	// XUIDL for a spool holding any X-UIDL header and Popa3d otherwise.
	Auto Scheme = "auto"
)

// ParseScheme returns the scheme the native backend serves named s; the
// empty string means Native.
func ParseScheme(s string) (Scheme, error) {
	switch Scheme(s) {
	case "", Native:
		return Native, nil
	case XUIDL, Popa3d:
		return Scheme(s), nil
	}
	return "", fmt.Errorf("uidl: unknown scheme %q (want native, xuidl or popa3d)", s)
}

// ParseLegacyScheme returns the legacy server's scheme named s, for an
// import; the empty string means Auto.
func ParseLegacyScheme(s string) (Scheme, error) {
	switch sc := Scheme(s); sc {
	case "":
		return Auto, nil
	case Auto, XUIDL, QpopperXUIDL, QpopperHex, QpopperBase80, Popa3d:
		return sc, nil
	}
	return "", fmt.Errorf("unknown UIDL scheme %q (want auto, xuidl, qpopper-xuidl, qpopper-hex, qpopper-base80 or popa3d)", s)
}

// MaxLen is the longest unique-id RFC 1939 allows.
const MaxLen = 70

// Valid reports whether s is an RFC 1939 unique-id: 1 to 70 characters in
// the range 0x21 to 0x7E.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// NativeID formats a native content digest: 32 lowercase hex characters
// (128 bits of SHA-256, ample against accidental collisions in a maildrop).
func NativeID(sum []byte) string { return hex.EncodeToString(sum[:16]) }

// Dedupe makes uids unique in place, keeping the first occurrence of each
// value and giving later ones a "-2", "-3", ... suffix in order. A suffixed
// value that would collide with another id, or exceed MaxLen, is adjusted
// deterministically, so the result depends only on the input sequence.
func Dedupe(uids []string) {
	taken := make(map[string]bool, len(uids))
	dup := false
	for _, u := range uids {
		dup = dup || taken[u]
		taken[u] = true
	}
	if !dup {
		return
	}
	first := make(map[string]bool, len(uids))
	next := map[string]int{} // the next suffix to try per value
	for i, u := range uids {
		if !first[u] {
			first[u] = true
			continue
		}
		for n := max(next[u], 2); ; n++ {
			suffix := "-" + strconv.Itoa(n)
			base := u
			if len(base)+len(suffix) > MaxLen {
				base = base[:MaxLen-len(suffix)]
			}
			if cand := base + suffix; !taken[cand] {
				taken[cand] = true
				uids[i] = cand
				next[u] = n + 1
				break
			}
		}
	}
}
