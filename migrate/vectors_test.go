package migrate

import (
	"crypto/md5"
	"encoding/binary"
	"os"
	"testing"
)

func scanFile(t *testing.T, path string) []spoolMsg {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []spoolMsg
	var n int64
	if err := scanSpool(f, &n, func(m spoolMsg) error { out = append(out, m); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPublishedVectors checks every UIDL of POP3-NOTES section 6: popa3d
// [RUN] and the qpopper [CALC] columns, for test.mbox and edge.mbox.
func TestPublishedVectors(t *testing.T) {
	msgs := scanFile(t, "testdata/test.mbox")
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
		check := func(s Scheme, want string) {
			t.Helper()
			got, err := s.legacyUIDL(m)
			if err != nil || got != want {
				t.Errorf("test.mbox msg %d %s = %q, %v; want %q", i+1, s, got, err, want)
			}
		}
		check(SchemePopa3d, w.popa3d)
		check(SchemeQpopperHex, w.hex)
		check(SchemeQpopperBase80, w.base80)
	}
	// qpopper 4.x old-style-uid rejects message 4's 32-hex X-UIDL and
	// hashes it; with its X-UIDL removed, message 5 hashes to these.
	if got := msgs[3].QpopperHex; got != "fb140cde36e58c0c4d0da3ccac9ec8d7" {
		t.Errorf("msg 4 old-style hash = %s", got)
	}
	if got := msgs[4].QpopperHex; got != "bb16d474b64502e38fdc06e307c4df26" {
		t.Errorf("msg 5 hex without X-UIDL = %s", got)
	}
	if got := msgs[4].QpopperBase80; got != `%'k!!/SM"!dI2"!LQ2"!` {
		t.Errorf("msg 5 base80 without X-UIDL = %s", got)
	}
	// Default qpopper 4.x: only in-bounds stored values are known.
	if _, err := SchemeQpopperXUIDL.legacyUIDL(msgs[3]); err == nil {
		t.Error("qpopper-xuidl accepted a 33-octet X-UIDL")
	}
	if got, err := SchemeQpopperXUIDL.legacyUIDL(msgs[4]); err != nil || got != `P84"!np+"!0kf!!h3C"!` {
		t.Errorf("qpopper-xuidl msg 5 = %q, %v", got, err)
	}
	// Dovecot's pop3_reuse_xuidl serves both stored values verbatim.
	if got, _ := SchemeXUIDL.legacyUIDL(msgs[3]); got != "3b1c8e6f0a7d2c9e5f4a1b0c9d8e7f6a" {
		t.Errorf("xuidl msg 4 = %q", got)
	}

	edge := scanFile(t, "testdata/edge.mbox")
	wantEdge := []string{"d98c1dd404b2008f", "d98c1dd404b2008f", "e969f85e5f2a579f", "d98c1dd404b2008f", "100e6a907106c693"}
	if len(edge) != len(wantEdge) {
		t.Fatalf("edge.mbox: %d messages, want %d", len(edge), len(wantEdge))
	}
	for i, w := range wantEdge {
		if edge[i].Popa3d != w {
			t.Errorf("edge.mbox msg %d popa3d = %s, want %s", i+1, edge[i].Popa3d, w)
		}
	}
}

func TestBase80OfEmptyDigest(t *testing.T) {
	d := md5.Sum(nil)
	if got := qpopperHex(d[:]); got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("hex = %s", got)
	}
	if got := qpopperBase80(d[:]); got != `j2Z"!5n,"!i7k"!O,"#!` {
		t.Errorf("base80 = %s", got)
	}
}

// TestRandomQpopperVector reproduces the default qpopper 4.x example
// (time_locked=1073000000, LP64 little-endian): the hasher's order and the
// encoder are right even though such UIDLs cannot be imported.
func TestRandomQpopperVector(t *testing.T) {
	q := newQpopper([]byte("From alice@example.org Mon Jan  5 10:00:00 2004\n"))
	q.h.Write(binary.LittleEndian.AppendUint64(nil, 1073000000+1))
	for _, line := range []string{
		"Received: from mx.example.org (mx.example.org [192.0.2.1])\n",
		"Date: Mon, 5 Jan 2004 09:59:58 +0000\n",
		"Subject: First test message\n",
		"Message-ID: <20040105095958.AAA001@example.org>\n",
	} {
		if !qpopperHashes([]byte(line)) {
			t.Fatalf("%q not hashed", line)
		}
		q.write([]byte(line))
	}
	if _, modern := q.sums(); qpopperBase80(modern) != `]l9!!7Dm!!i8l"!U^Z"!` {
		t.Errorf("base80 = %s", qpopperBase80(modern))
	}
}
