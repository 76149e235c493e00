package migrate

import (
	"bytes"
	"testing"

	"github.com/popgate/popgate/uidl"
)

// TestScanSpoolSplitsOnLFOnly pins the legacy servers' split on spools with
// CRLF lines: only a line that is exactly LF separates messages or ends the
// headers, so a CRLF blank line before a From_ line does not.
func TestScanSpoolSplitsOnLFOnly(t *testing.T) {
	ids := func(xuidl string, xuidlLen int, has bool, popa3d, hex, base80 string) uidl.LegacyIDs {
		return uidl.LegacyIDs{XUIDL: xuidl, XUIDLLen: xuidlLen, HasXUIDL: has, Popa3d: popa3d, QpopperHex: hex, QpopperBase80: base80}
	}
	for _, tc := range []struct {
		name  string
		spool string
		want  []spoolMsg
	}{
		{"crlf spool is one message",
			"From a@b Sat Jan 10 10:00:00 2004\r\nReceived: from x\r\nX-UIDL: abcdefghijkl\r\n\r\nbody\r\n\r\nFrom c@d Sat Jan 10 10:00:01 2004\r\nDate: y\r\n\r\nz\r\n",
			[]spoolMsg{{1, ids("abcdefghijkl", 14, true, "cf69bc535db50a31", "7c60b3885e954dee3efc08334da4b537", "_73\"!8i,!!Ric!!ZRl\"!"), "3948c1d62b4e28136adbd60c0af7676b"}}},
		{"From_ after a leading crlf line is skipped",
			"\r\nFrom a@b Sat Jan 10 10:00:00 2004\nDate: d\n\nx\n\nFrom c@d Sat Jan 10 10:00:01 2004\nReceived: r\n\ny\n",
			[]spoolMsg{{1, ids("", 0, false, "6bea0126a1eae288", "66eaaefe6f88d6c0a3bf4ef73560f05e", "dQ@!!@]`\"!m:b!!hp_!!"), "fe948888803e7ede42a978b2dc2a52be"}}},
		{"crlf blank line joins two messages",
			"junk\n\nFrom a@b Sat Jan 10 10:00:00 2004\nDate: d\n\nx\r\n\r\nFrom c@d Sat Jan 10 10:00:01 2004\nReceived: r\n\ny\n\nFrom e@f Sat Jan 10 10:00:02 2004\nMessage-ID: <m>\n\nw",
			[]spoolMsg{
				{1, ids("", 0, false, "f8f2a5298cb7b59e", "072c9737eebf9a9bf2bfb9f8dfbd4442", "~iJ!!o2h\"!>^/\"!Xm6!!"), "3dbea7cce34fac447873c36470e01aa4"},
				{2, ids("", 0, false, "8655349ae4331468", "13b5381ac8f1911e86dfdd17b622f445", "\\EV!!i6#\"!Vk2!!7~i!!"), "917d65a403296dc072dd0aaf025c1570"}}},
		{"From_ line without line end",
			"From a@b Sat Jan 10 10:00:00 2004",
			[]spoolMsg{{1, ids("", 0, false, "d98c1dd404b2008f", "b32930cf9966c00e1c0edc453d45a3f3", "'Q>\"!l['\"!Z7M!!VEd!!"), "e3b0c44298fc1c149afbf4c8996fb924"}}},
		{"headers without blank line",
			"From a@b Sat Jan 10 10:00:00 2004\nSubject: no body",
			[]spoolMsg{{1, ids("", 0, false, "d98c1dd404b2008f", "dc2c3458d308310d870b6e0a61502e42", "W]d!!+(4\"!hYQ\"!j@)\"!"), "649b6ded1ac60ffba0773db03c3d0e19"}}},
	} {
		var got []spoolMsg
		var read int64
		err := scanSpool(bytes.NewReader([]byte(tc.spool)), func(n int64) { read = n }, func(m spoolMsg) error {
			got = append(got, m)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if read != int64(len(tc.spool)) {
			t.Errorf("%s: read %d bytes, want %d", tc.name, read, len(tc.spool))
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d messages %+v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: message %d = %+v, want %+v", tc.name, i+1, got[i], tc.want[i])
			}
		}
	}
}
