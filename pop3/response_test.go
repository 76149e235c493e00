package pop3

import (
	"io"
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		line string
		want Response
		ok   bool
	}{
		{"+OK", Response{OK: true}, true},
		{"+OK 2 320", Response{OK: true, Text: "2 320"}, true},
		{"+ok dovecot ready.", Response{OK: true, Text: "dovecot ready."}, true},
		{"-ERR [IN-USE] mailbox locked", Response{Code: CodeInUse, Text: "mailbox locked"}, true},
		{"-ERR [sys/temp] later", Response{Code: CodeSysTemp, Text: "later"}, true},
		{"-ERR [AUTH] Authentication failed.", Response{Code: CodeAuth, Text: "Authentication failed."}, true},
		{"-ERR [not a code here", Response{Text: "[not a code here"}, true},
		{"-ERR", Response{}, true},
		{"+ ", Response{Continue: true}, true},
		{"+ dGVzdA==", Response{Continue: true, Text: "dGVzdA=="}, true},
		{"+OKAY", Response{}, false},
		{"OK", Response{}, false},
		{"", Response{}, false},
	}
	for _, tt := range tests {
		got, err := ParseResponse([]byte(tt.line))
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseResponse(%q) = %+v, %v; want %+v (ok %v)", tt.line, got, err, tt.want, tt.ok)
		}
	}
}

func TestResponseString(t *testing.T) {
	for _, r := range []Response{{OK: true, Text: "hi"}, {Code: CodeSysTemp, Text: "later"}, {Continue: true, Text: "x"}, {OK: true}} {
		back, err := ParseResponse([]byte(r.String()))
		if err != nil || back != r {
			t.Errorf("ParseResponse(%q) = %+v, %v; want %+v", r.String(), back, err, r)
		}
	}
}

// FuzzReadResponse checks that every accepted status line renders back to a
// line that parses to the same response.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR [SYS/TEMP] x\r\n", "+ \r\n", "+OK 1 octets\r\n", "-ERR [IN-USE]\r\n", strings.Repeat("+", 600) + "\r\n+OK\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(strings.NewReader(string(data)))
		for range 100 {
			resp, err := r.ReadResponse()
			if err == ErrLineTooLong || err == ErrBadResponse {
				continue
			}
			if err != nil {
				return
			}
			back, err := ParseResponse([]byte(resp.String()))
			if err != nil || back != resp {
				t.Fatalf("ParseResponse(%q) = %+v, %v; want %+v", resp.String(), back, err, resp)
			}
		}
	})
}

// TestWriterResponse checks that a status line is written as String renders
// it, and formatted in the write buffer without a string of its own.
func TestWriterResponse(t *testing.T) {
	var out strings.Builder
	w := NewWriter(&out)
	rs := []Response{{OK: true, Text: "2 320"}, {Code: CodeInUse, Text: "locked"}, {Continue: true}, {}}
	var want strings.Builder
	for _, r := range rs {
		w.Response(r)
		want.WriteString(r.String() + "\r\n")
	}
	w.Flush()
	if out.String() != want.String() {
		t.Errorf("wrote %q, want %q", out.String(), want.String())
	}
	w = NewWriter(io.Discard)
	w.OK("warm up")
	if n := testing.AllocsPerRun(100, func() { w.Response(rs[1]) }); n != 0 {
		t.Errorf("a status line costs %v allocations", n)
	}
}

func TestWriterItem(t *testing.T) {
	var out strings.Builder
	w := NewWriter(&out)
	mi := MsgInfo{Num: 12, Size: 3456, UID: "abc"}
	w.ItemOK(mi, true)
	w.Item(mi, false)
	w.Item(mi, true)
	w.Flush()
	if want := "+OK 12 abc\r\n12 3456\r\n12 abc\r\n"; out.String() != want {
		t.Errorf("wrote %q, want %q", out.String(), want)
	}
	w = NewWriter(io.Discard)
	w.OK("warm up")
	if n := testing.AllocsPerRun(100, func() { w.Item(mi, false) }); n != 0 {
		t.Errorf("a listing line costs %v allocations", n)
	}
}
