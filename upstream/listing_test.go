package upstream

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// An accepted unique-id line is exactly "number SP id" with a legal id:
// nothing is trimmed, guessed or dropped (RFC 1939 section 7).
func FuzzParseUID(f *testing.F) {
	for _, s := range []string{"1 abc", "12 a!b~c", "1 has space", "0 x", "+1 x", "1 ", "1", "007 x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		n, uid, err := parseUID(line)
		if err != nil {
			return
		}
		num, rest, _ := bytes.Cut(line, []byte(" "))
		if n2, err := strconv.Atoi(string(num)); err != nil || n2 != n || n < 1 || string(rest) != uid {
			t.Errorf("parseUID(%q) = %d %q", line, n, uid)
		}
		if len(uid) < 1 || len(uid) > 70 || strings.IndexFunc(uid, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			t.Errorf("parseUID(%q) accepted the id %q", line, uid)
		}
	})
}

// An accepted scan listing starts with the number and size it returns.
func FuzzParseScan(f *testing.F) {
	for _, s := range []string{"1 120", "2 180 extra", "1", "1 -5", "x 1", "1  2", "9999999999999999999999 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		n, size, err := parseScan(line)
		if err != nil {
			return
		}
		if n < 0 || size < 0 {
			t.Errorf("parseScan(%q) = %d %d", line, n, size)
		}
		var n2 int
		var size2 int64
		if _, err := fmt.Sscanf(string(line), "%d %d", &n2, &size2); err != nil || n2 != n || size2 != size {
			t.Errorf("parseScan(%q) = %d %d; Sscanf says %d %d (%v)", line, n, size, n2, size2, err)
		}
	})
}
