// Package uidl computes POP3 unique-ids (RFC 1939 section 7) for the native
// backend: popa3d's header hash, qpopper's stored X-UIDL header, and a
// native content hash. Every scheme is derived from the message itself, so
// losing an index never changes a UIDL.
package uidl

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

// Scheme selects how a message's unique-id is computed.
type Scheme string

// The schemes.
const (
	// Native is a SHA-256 over the message's From_ line and bytes.
	Native Scheme = "native"
	// XUIDL serves the first stored X-UIDL header (qpopper's), falling
	// back to Native when it is missing or not RFC 1939 form.
	XUIDL Scheme = "xuidl"
	// Popa3d is popa3d 1.0's MD5 over selected header lines.
	Popa3d Scheme = "popa3d"
)

// ParseScheme returns the scheme named s; the empty string means Native.
func ParseScheme(s string) (Scheme, error) {
	switch Scheme(s) {
	case "", Native:
		return Native, nil
	case XUIDL, Popa3d:
		return Scheme(s), nil
	}
	return "", fmt.Errorf("uidl: unknown scheme %q (want native, xuidl or popa3d)", s)
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
