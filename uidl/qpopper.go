package uidl

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"hash"
)

// qpopperHasher reproduces qpopper's computed UIDL (pop_dropcopy.c): MD5
// over the From_ line, then the first physical line (LF included, NUL bytes
// as spaces) of every Received:, Date:, Message-Id: and Subject: header,
// and in 3.x/4.x the From_ line once more. The time counter of a default
// 3.x/4.x install is left out: those UIDLs are random and only their stored
// X-UIDL headers can be imported.
type qpopperHasher struct {
	h    hash.Hash
	from []byte
}

func newQpopper(fromLine []byte) *qpopperHasher {
	q := &qpopperHasher{h: md5.New(), from: bytes.Clone(fromLine)}
	q.h.Write(fromLine)
	return q
}

var qpopperHashed = []string{"Received:", "Date:", "Message-Id:", "Subject:"}

// write feeds a fragment of a hashed header line. Only the first physical
// line of a header is hashed: qpopper never sets bInContHeader.
func (q *qpopperHasher) write(frag []byte) {
	q.h.Write(bytes.ReplaceAll(frag, []byte{0}, []byte{' '}))
}

// qpopperHashes reports whether a header line is one qpopper hashes.
func qpopperHashes(line []byte) bool {
	for _, name := range qpopperHashed {
		if len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return true
		}
	}
	return false
}

// sums returns the 2.x / old-style digest and the 3.x/4.x one.
func (q *qpopperHasher) sums() (old, modern []byte) {
	old = q.h.Sum(nil)
	q.h.Write(q.from)
	return old, q.h.Sum(nil)
}

// qpopperHex is the 2.x and old-style-uid encoding: 32 lowercase hex.
func qpopperHex(d []byte) string { return hex.EncodeToString(d) }

// qpopperBase80 is the 3.x/4.x encoding (pop_dropcopy.c base80): five
// characters per 4-byte group, from v = ((d0<<4 + d1)<<4 + d2)<<4 + d3
// (shifts of 4, so the bytes overlap), least significant first, each
// 0x21 + v%80 with '.' replaced by '~'.
func qpopperBase80(d []byte) string {
	out := make([]byte, 0, 20)
	for i := 0; i+4 <= len(d); i += 4 {
		v := ((uint32(d[i])<<4+uint32(d[i+1]))<<4+uint32(d[i+2]))<<4 + uint32(d[i+3])
		for range 5 {
			c := byte(0x21 + v%80)
			if c == '.' {
				c = '~'
			}
			out = append(out, c)
			v /= 80
		}
	}
	return string(out)
}
