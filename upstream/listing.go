package upstream

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// parseScan parses "n size" from a STAT reply or a LIST line. RFC 1939
// section 5 lets a server put more after the size, so a space and anything
// may follow.
func parseScan(line []byte) (n int, size int64, err error) {
	first, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return 0, 0, fmt.Errorf("scan listing %q: want number and size", trim(line))
	}
	second, _, _ := bytes.Cut(rest, []byte{' '})
	n, err1 := strconv.Atoi(string(first))
	size, err2 := strconv.ParseInt(string(second), 10, 64)
	if err1 != nil || err2 != nil || n < 0 || size < 0 || !digits(first) || !digits(second) {
		return 0, 0, fmt.Errorf("scan listing %q: bad number", trim(line))
	}
	return n, size, nil
}

// parseUID parses "n unique-id" from a UIDL reply or line: nothing may
// follow, and the id must be 1 to 70 characters in 0x21-0x7E.
func parseUID(line []byte) (int, string, error) {
	first, uid, ok := bytes.Cut(line, []byte{' '})
	n, err := strconv.Atoi(string(first))
	if !ok || err != nil || n < 1 || !digits(first) {
		return 0, "", fmt.Errorf("unique-id listing %q: bad message number", trim(line))
	}
	id := string(uid)
	if !uidl.Valid(id) {
		return 0, "", fmt.Errorf("unique-id listing %q: bad unique-id", trim(line))
	}
	return n, id, nil
}

// digits reports whether b is a plain unsigned decimal (strconv also takes
// a sign).
func digits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// trim shortens a bad line for an error message.
func trim(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}

// checkNum validates a message number (and, for TOP, a line count) before
// anything is sent, so a bad caller cannot produce a malformed command.
func checkNum(n int) error {
	if n < 1 {
		return &pop3.Error{Text: pop3.ErrNoSuchMessage.Text, Err: fmt.Errorf("upstream: message number %d", n)}
	}
	return nil
}
