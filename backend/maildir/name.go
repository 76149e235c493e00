// Package maildir reads and updates Maildir mailboxes for the native
// backend: messages in new/ and cur/ (tmp/ is ignored), unique-ids from the
// stable base name, and deletion by unlink at UPDATE.
package maildir

import (
	"strconv"
	"strings"
)

// Name is a parsed Maildir file name such as
// "1700000000.M1P2.host,S=1234,W=1260:2,RS".
type Name struct {
	Base  string // up to the ':'; stable for the message's lifetime
	Info  string // after the ':', "" if none
	Flags string // the flags of a "2," info, else ""
	Size  int64  // the ",S=" field, or -1
	VSize int64  // the ",W=" field (Dovecot's CRLF size), or -1
}

// ParseName splits a Maildir file name. It reports false for names that are
// not message files (hidden files, empty names).
func ParseName(name string) (Name, bool) {
	if name == "" || name[0] == '.' || strings.ContainsAny(name, "/\x00") {
		return Name{}, false
	}
	n := Name{Size: -1, VSize: -1}
	n.Base, n.Info, _ = strings.Cut(name, ":")
	if n.Base == "" {
		return Name{}, false
	}
	if f, ok := strings.CutPrefix(n.Info, "2,"); ok {
		n.Flags = f
	}
	_, fields, _ := strings.Cut(n.Base, ",")
	for f := range strings.SplitSeq(fields, ",") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil || x < 0 {
			continue
		}
		switch k {
		case "S":
			n.Size = x
		case "W":
			n.VSize = x
		}
	}
	return n, true
}

// baseOf returns the base name of a message file name: up to the ':'.
func baseOf(name string) string {
	base, _, _ := strings.Cut(name, ":")
	return base
}

// Base returns the message's base name, stable for its lifetime.
func (m Msg) Base() string { return baseOf(m.Name) }

// HasFlag reports whether the info carries flag c.
func (n Name) HasFlag(c byte) bool { return strings.IndexByte(n.Flags, c) >= 0 }

// WithFlag returns the file name with flag c added to a "2," info, flags
// kept in ASCII order as the Maildir specification asks.
func (n Name) WithFlag(c byte) string {
	if n.HasFlag(c) {
		return n.Base + ":2," + n.Flags
	}
	f := []byte(n.Flags + string(c))
	for i := 1; i < len(f); i++ {
		for j := i; j > 0 && f[j] < f[j-1]; j-- {
			f[j], f[j-1] = f[j-1], f[j]
		}
	}
	return n.Base + ":2," + string(f)
}
