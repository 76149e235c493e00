package pop3

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want Command
		err  error
	}{
		{"STAT", Command{Name: "STAT"}, nil},
		{"stat", Command{Name: "STAT"}, nil},
		{"rEtR 1", Command{Name: "RETR", Args: []string{"1"}}, nil},
		{"TOP 1 10", Command{Name: "TOP", Args: []string{"1", "10"}}, nil},
		{"PASS secret with spaces ", Command{Name: "PASS", Args: []string{"secret with spaces "}}, nil},
		{"USER " + strings.Repeat("u", 60) + "@example.org", Command{Name: "USER", Args: []string{strings.Repeat("u", 60) + "@example.org"}}, nil},
		{"AUTH PLAIN " + strings.Repeat("A", 80), Command{Name: "AUTH", Args: []string{"PLAIN", strings.Repeat("A", 80)}}, nil},
		{"UIDL " + strings.Repeat("9", 41), Command{}, ErrArgTooLong},
		{"", Command{}, ErrBadCommand},
		{" STAT", Command{}, ErrBadCommand},
		{"ST\x00AT", Command{}, ErrBadCommand},
		{"STAT\r", Command{}, ErrBadCommand},
		{"RETR 1\rDELE 1", Command{}, ErrBadCommand},
		{"GET / HTTP/1.1", Command{Name: "GET", Args: []string{"/", "HTTP/1.1"}}, nil}, // an unknown keyword is the session's business
		{"\x16\x03\x01", Command{}, ErrBadCommand},
	}
	for _, tt := range tests {
		got, err := ParseCommand([]byte(tt.line))
		if !errors.Is(err, tt.err) || (err == nil && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ParseCommand(%q) = %#v, %v; want %#v, %v", tt.line, got, err, tt.want, tt.err)
		}
	}
}

func TestCommandStringRedacts(t *testing.T) {
	for line, want := range map[string]string{
		"PASS hunter2":                       "PASS ***",
		"pass hunter2":                       "PASS ***",
		"PASS two words ":                    "PASS ***",
		"PASS  ":                             "PASS ***",
		"PASS":                               "PASS",
		"APOP bob c4c9334bac560ecc97":        "APOP ***",
		"APOP bob":                           "APOP ***",
		"APOP bob c4c9 extra":                "APOP ***",
		"apop c4c9334bac560ecc97":            "APOP ***",
		"AUTH PLAIN AGJvYgBodW50ZXIy":        "AUTH PLAIN ***",
		"auth plain AGJvYgBodW50ZXIy":        "AUTH PLAIN ***",
		"AUTH PLAIN AGJvYgBodW50ZXIy extra":  "AUTH PLAIN ***",
		"AUTH PLAIN":                         "AUTH PLAIN",
		"AUTH LOGIN Ym9i":                    "AUTH LOGIN ***",
		"AUTH CRAM-MD5":                      "AUTH CRAM-MD5",
		"AUTH AGJvYgBodW50ZXIy":              "AUTH ***",
		"AUTH aHVudGVyMg==":                  "AUTH ***",
		"AUTH =":                             "AUTH ***",
		"AUTH *":                             "AUTH ***",
		"AUTH AGJvYgBodW50ZXIy PLAIN":        "AUTH ***",
		"AUTH XOAUTH2 dXNlcj1ib2IBYXV0aD0B":  "AUTH ***",
		"AUTH   PLAIN   AGJvYgBodW50ZXIy   ": "AUTH PLAIN ***",
		"AUTH":                               "AUTH",
		"RETR 1":                             "RETR 1",
	} {
		c, err := ParseCommand([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.String(); got != want {
			t.Errorf("ParseCommand(%q).String() = %q, want %q", line, got, want)
		}
	}
}

func TestReaderResyncsAfterLongLine(t *testing.T) {
	for _, n := range []int{300, 5000, 100000} {
		in := "NOOP\r\nUSER " + strings.Repeat("x", n) + "\r\nSTAT\r\nQUIT\n"
		r := NewReader(strings.NewReader(in))
		var got []string
		for {
			c, err := r.ReadCommand()
			if errors.Is(err, ErrLineTooLong) {
				got = append(got, "toolong")
				continue
			}
			if err != nil {
				break
			}
			got = append(got, c.Name)
		}
		want := []string{"NOOP", "toolong", "STAT", "QUIT"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("line of %d: commands = %v, want %v", n, got, want)
		}
	}
}

func TestMsgNum(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "42": 42, "0": 0, "-1": 0, "+1": 0, "1x": 0, "": 0, "99999999999": 0} {
		n, ok := MsgNum(s)
		if ok != (want > 0) || n != want {
			t.Errorf("MsgNum(%q) = %d, %v; want %d", s, n, ok, want)
		}
	}
	if n, ok := Count("0"); !ok || n != 0 {
		t.Errorf("Count(0) = %d, %v", n, ok)
	}
}

// FuzzReadCommand checks that any input yields commands whose names are
// upper-case keywords and whose arguments hold no control bytes, and that
// the reader never returns a line longer than the limit.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"USER alice\r\nPASS secret\r\n", "CAPA\r\nSTLS\r\n", "TOP 1 0\r\n", "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
		"AUTH PLAIN\r\n", "RETR 1\nDELE 1\n", "\x00\r\n", "NOOP\rQUIT\r\n", strings.Repeat("A", 300) + "\r\nNOOP\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(strings.NewReader(string(data)))
		for range 1000 {
			c, err := r.ReadCommand()
			if err != nil {
				if errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrBadCommand) || errors.Is(err, ErrArgTooLong) {
					continue
				}
				return
			}
			if c.Name != strings.ToUpper(c.Name) || c.Name == "" {
				t.Fatalf("command name %q", c.Name)
			}
			for _, a := range c.Args {
				if strings.ContainsAny(a, "\x00\r\n") {
					t.Fatalf("argument %q holds a control byte", a)
				}
			}
		}
	})
}

func BenchmarkReadCommand(b *testing.B) {
	line := "RETR 12345\r\n"
	br := strings.NewReader("")
	r := &Reader{r: bufio.NewReaderSize(br, readBufferSize)}
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(line)
		r.Reset(br)
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}
