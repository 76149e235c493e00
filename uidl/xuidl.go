package uidl

import "bytes"

// XUIDLValue returns the value of a header line if it is an X-UIDL: header
// (case-insensitive), the way qpopper reads it: the text after the colon
// without leading SP/TAB and without the line end. ok is false for other
// headers. The caller checks Valid before serving it.
func XUIDLValue(line []byte) (value string, ok bool) {
	const name = "X-UIDL:"
	if !prefixFold(line, name) {
		return "", false
	}
	v := line[len(name):]
	v = bytes.TrimLeft(v, " \t")
	v = bytes.TrimSuffix(v, []byte("\n"))
	v = bytes.TrimSuffix(v, []byte("\r"))
	return string(v), true
}
