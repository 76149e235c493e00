package pop3

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func stuff(t testing.TB, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	dw := NewDotWriter(bw)
	if _, err := dw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	return out.Bytes()
}

func unstuff(t testing.TB, wire []byte, bufSize int) ([]byte, []byte) {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(wire), bufSize)
	got, err := io.ReadAll(NewDotReader(br))
	if err != nil {
		t.Fatalf("DotReader(%q): %v", wire, err)
	}
	rest, _ := io.ReadAll(br)
	return got, rest
}

func TestDotWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"x\r\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n"},
		{"..a\nb.\n", "...a\r\nb.\r\n.\r\n"},
		{"a\r", "a\r\n.\r\n"},
		{"\x00\xff\r\n", "\x00\xff\r\n.\r\n"},
	}
	for _, tt := range tests {
		if got := string(stuff(t, []byte(tt.in))); got != tt.want {
			t.Errorf("DotWriter(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDotReaderByteFaithful(t *testing.T) {
	tests := []struct{ wire, want, rest string }{
		{".\r\n+OK next\r\n", "", "+OK next\r\n"},
		{"a\r\n..b\r\n.\r\n", "a\r\n.b\r\n", ""},
		// A bare ".\n" is data, not the end: no smuggling.
		{"a\n.\nb\r\n.\r\nQUIT\r\n", "a\n\nb\r\n", "QUIT\r\n"},
		{"\r\n.\r\n", "\r\n", ""},
		{".x\r\n.\r\n", "x\r\n", ""},
	}
	for _, tt := range tests {
		for _, size := range []int{16, 4096} {
			got, rest := unstuff(t, []byte(tt.wire), size)
			if string(got) != tt.want || string(rest) != tt.rest {
				t.Errorf("DotReader(%q) = %q, rest %q; want %q, rest %q", tt.wire, got, rest, tt.want, tt.rest)
			}
		}
	}
}

func TestDotReaderTruncated(t *testing.T) {
	for _, wire := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r"} {
		br := bufio.NewReaderSize(strings.NewReader(wire), 16)
		_, err := io.ReadAll(NewDotReader(br))
		if err != ErrUnexpectedEOF {
			t.Errorf("DotReader(%q) error = %v, want ErrUnexpectedEOF", wire, err)
		}
	}
}

// FuzzDotRoundTrip checks that unstuffing what DotWriter wrote gives back the
// CRLF-normalised input, that its length is WireSize, and that the block ends
// exactly where DotWriter ended it.
func FuzzDotRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a", ".", "..\r\n", "a\n.\nb", "\r\n.\r\n", "x\r", "From a\n>From b\n", strings.Repeat("long", 5000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wire := stuff(t, data)
		wire2 := append(append([]byte{}, wire...), "+OK after\r\n"...)
		got, rest := unstuff(t, wire2, 16)
		if string(rest) != "+OK after\r\n" {
			t.Fatalf("block of %q did not end at its terminator; rest %q", data, rest)
		}
		if int64(len(got)) != WireSize(data) {
			t.Fatalf("len(unstuff(stuff(%q))) = %d, WireSize = %d", data, len(got), WireSize(data))
		}
		// Writing in pieces gives the same bytes as writing at once.
		var split bytes.Buffer
		bw := bufio.NewWriter(&split)
		dw := NewDotWriter(bw)
		for i := 0; i < len(data); i += 3 {
			dw.Write(data[i:min(i+3, len(data))])
		}
		dw.Close()
		bw.Flush()
		if !bytes.Equal(split.Bytes(), wire) {
			t.Fatalf("DotWriter(%q) in 3-byte writes = %q, want %q", data, split.Bytes(), wire)
		}
		// Normalised data is a fixed point.
		if again := stuff(t, got); !bytes.Equal(again, wire) {
			t.Fatalf("stuff(unstuff(stuff(%q))) = %q, want %q", data, again, wire)
		}
	})
}
