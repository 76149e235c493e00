package mbox

import "io"

// LFSeparated returns the messages of msgs, which Parse found in all of r,
// the way popa3d and qpopper split the spool: they start a message only at
// a From_ line after a line that is exactly LF (or at the start of the
// file), where Parse also accepts a CRLF blank line. Each span runs from its
// From_ line to the next such boundary or the end of the file, so a
// message Parse split off after a CRLF blank line joins the one before it,
// and those before the first boundary are left out as those servers skip
// them.
func LFSeparated(r io.ReaderAt, msgs []Msg) ([]Span, error) {
	var out []Span
	var before [1]byte
	for _, m := range msgs {
		// Parse starts a message after "\n" or "\r\n"; the byte at
		// From-2 tells them apart.
		crlf := false
		if m.From >= 2 {
			if _, err := r.ReadAt(before[:], m.From-2); err != nil {
				return nil, err
			}
			crlf = before[0] == '\r'
		}
		switch {
		case !crlf:
			out = append(out, Span{Off: m.From, Len: m.End - m.From})
		case len(out) > 0:
			last := &out[len(out)-1]
			last.Len = m.End - last.Off
		}
	}
	return out, nil
}
