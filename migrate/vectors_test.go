package migrate

import (
	"os"
	"testing"

	"github.com/popgate/popgate/uidl"
)

func scanFile(t *testing.T, path string) []spoolMsg {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []spoolMsg
	if err := scanSpool(f, nil, func(m spoolMsg) error { out = append(out, m); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPublishedVectors checks every UIDL of POP3-NOTES section 6: popa3d
// [RUN] and the qpopper [CALC] columns, for test.mbox and edge.mbox.
func TestPublishedVectors(t *testing.T) {
	msgs := scanFile(t, "../uidl/testdata/test.mbox")
	if len(msgs) != 5 {
		t.Fatalf("test.mbox: %d messages, want 5", len(msgs))
	}
	want := []struct{ popa3d, hex, base80 string }{
		{"5a1c96ef726da04b", "d530314fbb14696768e090fed104b7a9", `,I<!!!jZ!!Cj&"!G\K"!`},
		{"4caf80ee9caa6971", "202f221e5d9f79f447dea30b252d7807", `W2m"!eIa!!H_B!!g'e"!`},
		{"6188f630301904cb", "09c3412e5646a7c5be9048563dceb1a0", `JlZ"!7P<!!\_^!!FcE!!`},
		{"b4f882b8be2b83e0", "3b1c8e6f0a7d2c9e5f4a1b0c9d8e7f6a", `+Tp!!3"N!!ZB/!!(AV"!`},
		{"10823bdaeca213cc", `P84"!np+"!0kf!!h3C"!`, `P84"!np+"!0kf!!h3C"!`},
	}
	for i, w := range want {
		m := msgs[i]
		check := func(s uidl.Scheme, want string) {
			t.Helper()
			got, err := s.LegacyUIDL(m.IDs)
			if err != nil || got != want {
				t.Errorf("test.mbox msg %d %s = %q, %v; want %q", i+1, s, got, err, want)
			}
		}
		check(uidl.Popa3d, w.popa3d)
		check(uidl.QpopperHex, w.hex)
		check(uidl.QpopperBase80, w.base80)
	}
	// qpopper 4.x old-style-uid rejects message 4's 32-hex X-UIDL and
	// hashes it; with its X-UIDL removed, message 5 hashes to these.
	if got := msgs[3].IDs.QpopperHex; got != "fb140cde36e58c0c4d0da3ccac9ec8d7" {
		t.Errorf("msg 4 old-style hash = %s", got)
	}
	if got := msgs[4].IDs.QpopperHex; got != "bb16d474b64502e38fdc06e307c4df26" {
		t.Errorf("msg 5 hex without X-UIDL = %s", got)
	}
	if got := msgs[4].IDs.QpopperBase80; got != `%'k!!/SM"!dI2"!LQ2"!` {
		t.Errorf("msg 5 base80 without X-UIDL = %s", got)
	}
	// Default qpopper 4.x: only in-bounds stored values are known.
	if _, err := uidl.QpopperXUIDL.LegacyUIDL(msgs[3].IDs); err == nil {
		t.Error("qpopper-xuidl accepted a 33-octet X-UIDL")
	}
	if got, err := uidl.QpopperXUIDL.LegacyUIDL(msgs[4].IDs); err != nil || got != `P84"!np+"!0kf!!h3C"!` {
		t.Errorf("qpopper-xuidl msg 5 = %q, %v", got, err)
	}
	// Dovecot's pop3_reuse_xuidl serves both stored values verbatim.
	if got, _ := uidl.XUIDL.LegacyUIDL(msgs[3].IDs); got != "3b1c8e6f0a7d2c9e5f4a1b0c9d8e7f6a" {
		t.Errorf("xuidl msg 4 = %q", got)
	}

	edge := scanFile(t, "../uidl/testdata/edge.mbox")
	wantEdge := []string{"d98c1dd404b2008f", "d98c1dd404b2008f", "e969f85e5f2a579f", "d98c1dd404b2008f", "100e6a907106c693"}
	if len(edge) != len(wantEdge) {
		t.Fatalf("edge.mbox: %d messages, want %d", len(edge), len(wantEdge))
	}
	for i, w := range wantEdge {
		if edge[i].IDs.Popa3d != w {
			t.Errorf("edge.mbox msg %d popa3d = %s, want %s", i+1, edge[i].IDs.Popa3d, w)
		}
	}
}
