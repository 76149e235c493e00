package uidl

import (
	"strings"
	"testing"
)

// qpopper 4.x counts a stored X-UIDL's line end in its 13-to-32-octet
// bound; 2.x takes any valid value.
func TestLegacyUIDLStoredBounds(t *testing.T) {
	sum := func(xuidlLine string) LegacyIDs {
		h := NewLegacyHasher()
		for _, l := range []string{"From a@b Sat Jan 10 10:00:00 2004\n", xuidlLine, "\n", "body\n"} {
			h.Write([]byte(l), true)
		}
		if !h.Done() {
			t.Fatal("headers not ended by an LF line")
		}
		return h.Sum()
	}
	short, long := sum("X-UIDL: abcdefghijk\n"), sum("X-UIDL: "+strings.Repeat("a", 32)+"\n")
	if short.XUIDLLen != 12 || long.XUIDLLen != 33 {
		t.Fatalf("stored lengths %d, %d; want 12, 33", short.XUIDLLen, long.XUIDLLen)
	}
	for _, ids := range []LegacyIDs{short, long} {
		if _, err := QpopperXUIDL.LegacyUIDL(ids); err == nil {
			t.Errorf("qpopper-xuidl accepted %q", ids.XUIDL)
		}
		if got, _ := QpopperBase80.LegacyUIDL(ids); got != ids.QpopperBase80 {
			t.Errorf("qpopper-base80 with %q = %q, want the hash", ids.XUIDL, got)
		}
		if got, _ := QpopperHex.LegacyUIDL(ids); got != ids.XUIDL {
			t.Errorf("qpopper-hex with %q = %q, want the stored value", ids.XUIDL, got)
		}
	}
}
