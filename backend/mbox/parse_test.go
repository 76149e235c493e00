package mbox

import (
	"bytes"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

func parseBytes(t testing.TB, data []byte, scheme uidl.Scheme) Result {
	t.Helper()
	res, err := Parse(bytes.NewReader(data), 0, Config{Scheme: scheme})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return res
}

func uids(res Result) []string {
	var out []string
	for _, m := range res.Msgs {
		out = append(out, m.UID)
	}
	return out
}

// POP3-NOTES section 6: popa3d 1.0.3 run on test.mbox and edge.mbox.
func TestPopa3dVectors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"../../uidl/testdata/test.mbox", []string{"5a1c96ef726da04b", "4caf80ee9caa6971", "6188f630301904cb", "b4f882b8be2b83e0", "10823bdaeca213cc"}},
		{"../../uidl/testdata/edge.mbox", []string{"d98c1dd404b2008f", "d98c1dd404b2008f", "e969f85e5f2a579f", "d98c1dd404b2008f", "100e6a907106c693"}},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got := uids(parseBytes(t, data, uidl.Popa3d))
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: popa3d UIDLs = %q, want %q", tc.file, got, tc.want)
		}
	}
}

func TestXUIDLScheme(t *testing.T) {
	data, err := os.ReadFile("../../uidl/testdata/test.mbox")
	if err != nil {
		t.Fatal(err)
	}
	got := uids(parseBytes(t, data, uidl.XUIDL))
	native := uids(parseBytes(t, data, uidl.Native))
	if got[3] != "3b1c8e6f0a7d2c9e5f4a1b0c9d8e7f6a" || got[4] != `P84"!np+"!0kf!!h3C"!` {
		t.Errorf("stored X-UIDLs: got %q, %q", got[3], got[4])
	}
	for i := 0; i < 3; i++ {
		if got[i] != native[i] {
			t.Errorf("msg %d without X-UIDL: got %q, want the native %q", i+1, got[i], native[i])
		}
	}
}

func TestXUIDLInvalidFallsBack(t *testing.T) {
	data := []byte("From a@b Sat Jan 10 10:00:00 2004\nX-UIDL: has space inside\nX-UIDL: second-is-ignored\n\nx\n")
	x := uids(parseBytes(t, data, uidl.XUIDL))
	n := uids(parseBytes(t, data, uidl.Native))
	if x[0] != n[0] {
		t.Errorf("invalid first X-UIDL: got %q, want native %q", x[0], n[0])
	}
}

// retr streams message m of data the way the backend serves RETR.
func retr(data []byte, m Msg) []byte {
	out, _ := io.ReadAll(NewCRLFReader(Served(bytes.NewReader(data), m.Data, m.DataEnd, m.Hidden)))
	return out
}

func checkInvariants(t testing.TB, data []byte, res Result) {
	t.Helper()
	next := res.Preamble
	for i, m := range res.Msgs {
		if m.From != next {
			t.Fatalf("msg %d starts at %d, want %d (gap or overlap)", i+1, m.From, next)
		}
		if !(m.From <= m.Data && m.Data <= m.DataEnd && m.DataEnd <= m.End) {
			t.Fatalf("msg %d offsets out of order: %+v", i+1, m)
		}
		if !bytes.HasPrefix(data[m.From:], []byte("From ")) {
			t.Fatalf("msg %d does not start with a From_ line", i+1)
		}
		body := retr(data, m)
		if int64(len(body)) != m.Size {
			t.Fatalf("msg %d: size %d, RETR streams %d bytes", i+1, m.Size, len(body))
		}
		raw, _ := io.ReadAll(Served(bytes.NewReader(data), m.Data, m.DataEnd, m.Hidden))
		if w := pop3.WireSize(raw); w != m.Size {
			t.Fatalf("msg %d: size %d, pop3.WireSize %d", i+1, m.Size, w)
		}
		if !uidl.Valid(m.UID) {
			t.Fatalf("msg %d: invalid UID %q", i+1, m.UID)
		}
		next = m.End
	}
	if len(res.Msgs) > 0 && next != int64(len(data)) {
		t.Fatalf("messages end at %d, file is %d bytes", next, len(data))
	}
}

func TestParseLayout(t *testing.T) {
	data, _ := os.ReadFile("../../uidl/testdata/test.mbox")
	res := parseBytes(t, data, uidl.Native)
	if len(res.Msgs) != 5 {
		t.Fatalf("got %d messages, want 5", len(res.Msgs))
	}
	checkInvariants(t, data, res)
	got := string(retr(data, res.Msgs[1]))
	if !strings.HasSuffix(got, "Body of message two.\r\n>From the start of a line\r\n") {
		t.Errorf("message 2 body: %q (want the >From line kept and the separator dropped)", got)
	}
	if !strings.HasPrefix(got, "Delivered-To: uidltest@example.net\r\n") {
		t.Errorf("message 2 starts %q, want its first header", got[:40])
	}
}

func TestParseTricky(t *testing.T) {
	long := strings.Repeat("L", 150<<10)
	for _, tc := range []struct {
		name string
		in   string
		want []string // RETR output per message
	}{
		{"crlf kept", "From a b\r\nA: 1\r\n\r\nbody\r\n\r\nFrom c d\r\nB: 2\r\n\r\nx\r\n",
			[]string{"A: 1\r\n\r\nbody\r\n", "B: 2\r\n\r\nx\r\n"}},
		{"no final newline", "From a b\nA: 1\n\nlast line",
			[]string{"A: 1\r\n\r\nlast line\r\n"}},
		{"final CR only", "From a b\nA: 1\n\nx\r",
			[]string{"A: 1\r\n\r\nx\r\n"}},
		{"From in body not after blank", "From a b\nA: 1\n\nline\nFrom here on\n",
			[]string{"A: 1\r\n\r\nline\r\nFrom here on\r\n"}},
		{"NUL and 8-bit", "From a b\nA: \x00\xff\n\n\x00\x80\xfe\n",
			[]string{"A: \x00\xff\r\n\r\n\x00\x80\xfe\r\n"}},
		{"long line", "From a b\nA: 1\n\n" + long + "\n\nFrom c d\nB: 2\n",
			[]string{"A: 1\r\n\r\n" + long + "\r\n", "B: 2\r\n"}},
		{"headers only before From", "From a b\nA: 1\n\nFrom c d\nB: 2\n\n",
			[]string{"A: 1\r\n", "B: 2\r\n"}},
		{"two blank lines", "From a b\nA: 1\n\nx\n\n\nFrom c d\nB: 2\n",
			[]string{"A: 1\r\n\r\nx\r\n\r\n", "B: 2\r\n"}},
		{"preamble", "junk\n\nFrom a b\nA: 1\n",
			[]string{"A: 1\r\n"}},
		{"empty message", "From a b\nFrom c d\nA: 1\n",
			[]string{"From c d\r\nA: 1\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.in)
			res := parseBytes(t, data, uidl.Native)
			checkInvariants(t, data, res)
			if len(res.Msgs) != len(tc.want) {
				t.Fatalf("got %d messages, want %d", len(res.Msgs), len(tc.want))
			}
			for i, m := range res.Msgs {
				if got := string(retr(data, m)); got != tc.want[i] {
					t.Errorf("msg %d: RETR %q, want %q", i+1, trunc(got), trunc(tc.want[i]))
				}
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:40] + "..." + s[len(s)-40:]
	}
	return s
}

func TestTop(t *testing.T) {
	msg := "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n"
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "A: 1\r\nB: 2\r\n\r\n"},
		{2, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n"},
		{10, msg},
	} {
		got, _ := io.ReadAll(NewTopReader(strings.NewReader(msg), tc.n))
		if string(got) != tc.want {
			t.Errorf("TOP %d = %q, want %q", tc.n, got, tc.want)
		}
	}
	headersOnly := "A: 1\r\nB: 2\r\n"
	if got, _ := io.ReadAll(NewTopReader(strings.NewReader(headersOnly), 0)); string(got) != headersOnly {
		t.Errorf("TOP of a header-only message = %q", got)
	}
}

// Converted bytes of one source read are handed out across many small
// reads before the next source read refills the reused buffer.
func TestCRLFReaderAcrossReads(t *testing.T) {
	var src, want bytes.Buffer
	for i := range 3000 {
		line := strings.Repeat("x", i%40)
		src.WriteString(line)
		want.WriteString(line + "\r\n")
		if i%3 == 0 {
			src.WriteString("\r\n")
		} else {
			src.WriteString("\n")
		}
	}
	src.WriteString("end")
	want.WriteString("end\r\n")
	got, err := io.ReadAll(iotest.HalfReader(NewCRLFReader(&src)))
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Errorf("CRLF conversion: %d bytes, want %d, err %v", len(got), want.Len(), err)
	}
	if int64(len(got)) != pop3.WireSize(want.Bytes()) {
		t.Errorf("read %d bytes, WireSize %d", len(got), pop3.WireSize(want.Bytes()))
	}
}

// Parsing from a From_ line offset gives the same messages as a full parse.
func TestParseFromOffset(t *testing.T) {
	data, _ := os.ReadFile("../../uidl/testdata/test.mbox")
	full := parseBytes(t, data, uidl.Native)
	at := full.Msgs[3].From
	part, err := Parse(bytes.NewReader(data[at:]), at, Config{Scheme: uidl.Native})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(part.Msgs, full.Msgs[3:]) {
		t.Errorf("partial parse %+v, want %+v", part.Msgs, full.Msgs[3:])
	}
}

func FuzzMboxParse(f *testing.F) {
	for _, name := range []string{"../../uidl/testdata/test.mbox", "../../uidl/testdata/edge.mbox"} {
		data, _ := os.ReadFile(name)
		f.Add(data)
	}
	f.Add([]byte("From a b\r\nA: 1\r\n\r\nx\r\n\r\nFrom c\n"))
	f.Add([]byte("junk\n\nFrom a b\nX-UIDL: abc\n\nFrom \nFrom x\n\x00\r"))
	f.Add([]byte("From a b"))
	f.Add([]byte("From a b\nStatus: RO\n\tcont\nA: 1\nX-UID: 3"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cfg := range []Config{{Scheme: uidl.Native}, {Scheme: uidl.XUIDL}, {Scheme: uidl.Popa3d}, {Scheme: uidl.Native, Hide: true}} {
			res, err := Parse(bytes.NewReader(data), 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, data, res)
			if len(res.Msgs) == 0 && res.Preamble != int64(len(data)) {
				t.Fatalf("no messages but preamble %d of %d bytes", res.Preamble, len(data))
			}
		}
	})
}

func TestHideStoreHeaders(t *testing.T) {
	in := "From a b\nStatus: RO\nReceived: x\nX-UIDL: abc\nX-IMAPbase: 1 2\n\tcontinued\nSubject: s\nContent-Length: 5\n\nStatus: body line\n\n" +
		"From c d\nA: 1\nX-Status: F"
	data := []byte(in)
	res, err := Parse(bytes.NewReader(data), 0, Config{Scheme: uidl.Native, Hide: true})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, data, res)
	want := []string{"Received: x\r\nSubject: s\r\n\r\nStatus: body line\r\n", "A: 1\r\n"}
	for i, m := range res.Msgs {
		if got := string(retr(data, m)); got != want[i] {
			t.Errorf("msg %d: %q, want %q", i+1, got, want[i])
		}
	}
	shown, _ := Parse(bytes.NewReader(data), 0, Config{Scheme: uidl.Native})
	for i := range res.Msgs {
		if res.Msgs[i].UID != shown.Msgs[i].UID {
			t.Errorf("msg %d: hiding headers changed the UID", i+1)
		}
	}
}
