package uidl

import (
	"strings"
	"testing"
)

func TestDedupe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a b c", "a b c"},
		{"a a a", "a a-2 a-3"},
		{"a a-2 a", "a a-2 a-3"},
		{"x a x a", "x a x-2 a-2"},
	} {
		u := strings.Fields(tc.in)
		Dedupe(u)
		if got := strings.Join(u, " "); got != tc.want {
			t.Errorf("Dedupe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("z", MaxLen)
	u := []string{long, long}
	Dedupe(u)
	if !Valid(u[1]) || u[1] == u[0] || !strings.HasSuffix(u[1], "-2") {
		t.Errorf("duplicate of a 70-char id became %q", u[1])
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"": false, "abc": true, "a b": false, strings.Repeat("a", 70): true,
		strings.Repeat("a", 71): false, "\x7f": false, `P84"!np+"!0kf!!h3C"!`: true,
	} {
		if Valid(s) != want {
			t.Errorf("Valid(%q) = %v, want %v", s, !want, want)
		}
	}
}

func TestXUIDLValue(t *testing.T) {
	for line, want := range map[string]string{
		"X-UIDL: abc\n":      "abc",
		"x-uidl:\t abc\r\n":  "abc",
		"X-UIDL:abc":         "abc",
		"X-UIDLS: abc\n":     "",
		"Subject: X-UIDL:\n": "",
	} {
		got, ok := XUIDLValue([]byte(line))
		if got != want || ok != (want != "") {
			t.Errorf("XUIDLValue(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
}

func TestParseScheme(t *testing.T) {
	if s, err := ParseScheme(""); err != nil || s != Native {
		t.Errorf(`ParseScheme("") = %q, %v`, s, err)
	}
	if _, err := ParseScheme("md5"); err == nil {
		t.Error(`ParseScheme("md5") accepted`)
	}
	// The backend computes no qpopper hash; an import cannot know native.
	if _, err := ParseScheme(string(QpopperHex)); err == nil {
		t.Error("ParseScheme accepted qpopper-hex")
	}
	if s, err := ParseLegacyScheme(""); err != nil || s != Auto {
		t.Errorf(`ParseLegacyScheme("") = %q, %v`, s, err)
	}
	if s, err := ParseLegacyScheme("qpopper-base80"); err != nil || s != QpopperBase80 {
		t.Errorf(`ParseLegacyScheme("qpopper-base80") = %q, %v`, s, err)
	}
	if _, err := ParseLegacyScheme(string(Native)); err == nil {
		t.Error("ParseLegacyScheme accepted native")
	}
}

// Popa3d's hasher alone on edge.mbox message 3's header: Date before the
// first Received, and the Received continuation that starts with spaces.
func TestPopa3dHasher(t *testing.T) {
	h := NewPopa3d()
	for _, l := range []string{"Date: Sat, 10 Jan 2004 10:00:02 +0000\n", "Received: from q\n",
		"  by r; Sat, 10 Jan 2004 10:00:02 +0000\n", "Message-ID: <after-received@x>\n"} {
		h.Write([]byte(l), true)
	}
	if got := h.Sum(); got != "e969f85e5f2a579f" {
		t.Errorf("popa3d hash = %s, want e969f85e5f2a579f", got)
	}
	if got := NewPopa3d().Sum(); got != "d98c1dd404b2008f" {
		t.Errorf("popa3d hash of no headers = %s, want d98c1dd404b2008f", got)
	}
}
