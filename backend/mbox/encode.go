package mbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/popgate/popgate/uidl"
)

// indexFormat versions the encoding below; a value of another version does
// not decode, which costs one full parse of that spool.
const indexFormat = 1

var errIndexEncoding = errors.New("mbox: damaged index encoding")

// MarshalBinary encodes the index compactly: offsets as deltas, all
// integers as varints. It is what the index store keeps, and is several
// times faster to write and read than gob's encoding of the structure.
func (ix *Index) MarshalBinary() ([]byte, error) { return ix.AppendBinary(nil) }

// AppendBinary appends what MarshalBinary returns to b.
func (ix *Index) AppendBinary(b []byte) ([]byte, error) {
	b = slices.Grow(b, 128+len(ix.Msgs)*(16+len(firstUID(ix))))
	b = append(b, indexFormat)
	b = binary.AppendUvarint(b, ix.Dev)
	b = binary.AppendUvarint(b, ix.Ino)
	for _, v := range []int64{ix.Size, ix.Mtime, ix.Ctime, ix.Preamble} {
		b = binary.AppendVarint(b, v)
	}
	b = appendString(b, string(ix.Config.Scheme))
	b = append(b, boolByte(ix.Config.Hide))
	b = append(b, ix.Tail[:]...)
	b = append(b, ix.Head[:]...)
	b = binary.AppendUvarint(b, uint64(len(ix.Msgs)))
	var prev int64
	for _, m := range ix.Msgs {
		for _, v := range []int64{m.From - prev, m.Data - m.From, m.DataEnd - m.Data, m.End - m.DataEnd, m.Size} {
			b = binary.AppendVarint(b, v)
		}
		prev = m.End
		b = appendString(b, m.UID)
		b = binary.AppendUvarint(b, uint64(len(m.Hidden)))
		for _, h := range m.Hidden {
			b = binary.AppendVarint(b, h.Off-m.Data)
			b = binary.AppendVarint(b, h.Len)
		}
	}
	return b, nil
}

func firstUID(ix *Index) string {
	if len(ix.Msgs) == 0 {
		return ""
	}
	return ix.Msgs[0].UID
}

// UnmarshalBinary decodes what MarshalBinary encoded. The unique-ids share
// one string, so a decoded index is two allocations, not one per message.
func (ix *Index) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if len(b) == 0 || b[0] != indexFormat {
		return fmt.Errorf("mbox: index format %v, want %d", b[:min(len(b), 1)], indexFormat)
	}
	d.b = d.b[1:]
	var out Index
	out.Dev, out.Ino = d.uvarint(), d.uvarint()
	out.Size, out.Mtime, out.Ctime, out.Preamble = d.varint(), d.varint(), d.varint(), d.varint()
	out.Config.Scheme = uidl.Scheme(d.string())
	out.Config.Hide = d.byte() == 1
	copy(out.Tail[:], d.bytes(len(out.Tail)))
	copy(out.Head[:], d.bytes(len(out.Head)))
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) { // every message takes bytes
		return errIndexEncoding
	}
	// Unique-ids are sliced from one string holding the rest of the input.
	all := string(d.b)
	base := len(b) - len(d.b)
	if n > 0 {
		out.Msgs = make([]Msg, n)
	}
	var prev int64
	for i := range out.Msgs {
		m := &out.Msgs[i]
		m.From = prev + d.varint()
		m.Data = m.From + d.varint()
		m.DataEnd = m.Data + d.varint()
		m.End = m.DataEnd + d.varint()
		m.Size = d.varint()
		prev = m.End
		l := d.uvarint()
		if d.err != nil || l > uint64(len(d.b)) {
			return errIndexEncoding
		}
		at := len(b) - len(d.b) - base
		m.UID = all[at : at+int(l)]
		d.b = d.b[l:]
		if h := d.uvarint(); h > 0 {
			if h > uint64(len(d.b)) {
				return errIndexEncoding
			}
			m.Hidden = make([]Span, h)
			for j := range m.Hidden {
				m.Hidden[j] = Span{Off: m.Data + d.varint(), Len: d.varint()}
			}
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return errIndexEncoding
	}
	*ix = out
	return nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// decoder reads varints and strings, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	return took(d, v, n)
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	return took(d, v, n)
}

// took consumes the n bytes a varint took, or fails on n <= 0 (too short
// or overflowing); it returns v, or zero on failure.
func took[T uint64 | int64](d *decoder, v T, n int) T {
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if n > len(d.b) {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	return string(d.bytes(int(n)))
}

func (d *decoder) fail() {
	d.err = errIndexEncoding
	d.b = nil
}
