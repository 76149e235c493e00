package testpeer

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestSplitMboxTricky(t *testing.T) {
	msgs := SplitMbox(TrickyMbox())
	if len(msgs) != TrickyCount {
		t.Fatalf("SplitMbox(TrickyMbox()) = %d messages, want %d", len(msgs), TrickyCount)
	}
	checks := []struct {
		msg  int
		what string
		ok   func([]byte) bool
	}{
		{1, "a lone dot line", func(m []byte) bool { return bytes.Contains(m, []byte("\n.\n")) }},
		{2, "an unquoted From line", func(m []byte) bool { return bytes.Contains(m, []byte("\nFrom here, not a separator\n")) }},
		{2, "a quoted From line", func(m []byte) bool { return bytes.Contains(m, []byte("\n>From the quoted line\n")) }},
		{3, "a 100 KB line", func(m []byte) bool { return bytes.Contains(m, bytes.Repeat([]byte("0123456789"), 10*1024)) }},
		{4, "a NUL and 8-bit bytes", func(m []byte) bool { return bytes.Contains(m, []byte("a\x00b")) && bytes.Contains(m, []byte{0xe9}) }},
		{5, "an empty body", func(m []byte) bool { return bytes.Index(m, []byte("\n\n")) == len(m)-2 }},
		{6, "no final newline", func(m []byte) bool { return bytes.HasSuffix(m, []byte("has no newline")) }},
	}
	for _, c := range checks {
		if !c.ok(msgs[c.msg-1]) {
			t.Errorf("message %d lacks %s: %.200q", c.msg, c.what, msgs[c.msg-1])
		}
	}
}

func TestSimpleMbox(t *testing.T) {
	msgs := SplitMbox(SimpleMbox(3))
	if len(msgs) != 3 {
		t.Fatalf("SplitMbox(SimpleMbox(3)) = %d messages, want 3", len(msgs))
	}
	if bytes.Equal(msgs[0], msgs[1]) {
		t.Error("SimpleMbox messages are not distinct")
	}
}

func TestMboxMessageQuotesFrom(t *testing.T) {
	entry := MboxMessage([]byte("Subject: x\n\nFrom me\nbye"))
	if !bytes.Contains(entry, []byte("\n>From me\n")) {
		t.Errorf("From line not quoted: %q", entry)
	}
	msgs := SplitMbox(append(entry, MboxMessage([]byte("Subject: y\n\nz\n"))...))
	if len(msgs) != 2 || string(msgs[0]) != "Subject: x\n\n>From me\nbye\n" {
		t.Errorf("SplitMbox(two entries) = %q", msgs)
	}
}

const fetchmailTrace = `fetchmail: POP3< +OK Dovecot (Debian) ready.
fetchmail: POP3> UIDL
fetchmail: POP3< +OK
fetchmail: POP3< 1 aaa
fetchmail: 1 is unseen
fetchmail: POP3< 2 bbb
fetchmail: POP3< 3 ccc
fetchmail: POP3< .
fetchmail: POP3> LIST 3
fetchmail: POP3< +OK 3 150
fetchmail: POP3> TOP 3 99999999
fetchmail: POP3< +OK
reading message a@h:1 of 2 (150 octets) fetchmail: POP3> LIST 1
fetchmail: POP3< +OK 1 175
fetchmail: POP3> TOP 1 99999999
fetchmail: POP3< +OK
`

func TestParseTraceFetchmail(t *testing.T) {
	tr, err := parseTrace([]byte(fetchmailTrace), traceSyntax{send: "fetchmail: POP3> ", recv: "fetchmail: POP3< ", anywhere: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := tr.messages([][]byte{[]byte("third"), []byte("first")})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(msgs[0].UIDL, " ", msgs[1].UIDL); got != "ccc aaa" {
		t.Errorf("UIDLs of the fetched messages = %q, want %q", got, "ccc aaa")
	}
	if _, err := tr.messages([][]byte{[]byte("only one")}); err == nil {
		t.Error("messages() accepted fewer bodies than fetches")
	}
}

// In mpop's trace the RETRs are pipelined and the bodies are printed; body
// lines must not be taken for UIDL listings.
const mpopTrace = `<-- +OK ready
--> UIDL
<-- +OK
<-- 1 aaa
<-- 2 bbb
<-- .
--> RETR 2
--> RETR 1
<-- +OK 20 octets
<-- 1 not-a-uidl
<-- ..
<-- .
<-- +OK 20 octets
<-- body
<-- .
--> QUIT
<-- +OK bye
`

func TestParseTraceMpopPipelined(t *testing.T) {
	tr, err := parseTrace([]byte(mpopTrace), traceSyntax{send: "--> ", recv: "<-- ", bodies: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.uidls) != 2 || tr.uidls[1] != "aaa" || tr.uidls[2] != "bbb" {
		t.Errorf("uidls = %v, want map[1:aaa 2:bbb]", tr.uidls)
	}
	if fmt.Sprint(tr.fetched) != "[2 1]" {
		t.Errorf("fetched = %v, want [2 1]", tr.fetched)
	}
}

// fakeTB records how Require ended the test instead of ending it.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// requireMissing calls Require for a program that does not exist.
func requireMissing(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Require(f, "popgate-no-such-program")
	}()
	<-done
	return f
}

func TestRequireMissingSkipsLocally(t *testing.T) {
	t.Setenv("CI", "")
	f := requireMissing(t)
	if f.failed != "" || !strings.Contains(f.skipped, "apt-get install popgate-no-such-program") {
		t.Errorf("skipped %q, failed %q; want a skip that says how to install", f.skipped, f.failed)
	}
}

func TestRequireMissingFailsInCI(t *testing.T) {
	t.Setenv("CI", "true")
	f := requireMissing(t)
	if f.skipped != "" || !strings.Contains(f.failed, "popgate-no-such-program not found") {
		t.Errorf("skipped %q, failed %q; want a failure under CI=true", f.skipped, f.failed)
	}
}

func TestRequireFindsWithoutPath(t *testing.T) {
	t.Setenv("PATH", "/nonexistent")
	path := Require(t, "sh")
	if !strings.HasPrefix(path, "/") || !strings.HasSuffix(path, "/sh") {
		t.Errorf("Require(sh) = %q, want an absolute path found without PATH", path)
	}
}

func TestSameBody(t *testing.T) {
	long := strings.Repeat("x", 8189)
	a := []byte("h: v\n\n" + long + "\x00\xfd\nrest\n")
	b := []byte("h: v\n\n" + long + "\x11\x22\nrest\n")
	if !SameBody("fetchmail", a, b) {
		t.Error("fetchmail's junk before a forced break made two copies differ")
	}
	if SameBody("mpop", a, b) {
		t.Error("another client's differing bytes were excused")
	}
	c := []byte("h: v\n\n" + long[:100] + "\x00\xfd\nrest\n")
	d := []byte("h: v\n\n" + long[:100] + "\x11\x22\nrest\n")
	if SameBody("fetchmail", c, d) {
		t.Error("a difference on a short line was excused")
	}
	// The junk may be a newline itself, which splits the line in one copy.
	e := []byte("h: v\n\n" + long + "\n\xfd\nrest\n")
	if !SameBody("fetchmail", a, e) {
		t.Error("junk that happened to be a newline made two copies differ")
	}
	f := []byte("h: v\n\n" + long[:8188] + "yy\x00\xfd\nrest\n")
	if SameBody("fetchmail", a, f) {
		t.Error("a difference before the two junk bytes was excused")
	}
	// Or there is one junk byte in one copy and two in the other.
	g := []byte("h: v\n\n" + long + "\x00\nrest\n")
	if !SameBody("fetchmail", g, b) {
		t.Error("one junk byte against two made two copies differ")
	}
	if SameBody("fetchmail", g, []byte("h: v\n\n"+long+"\x00\nresT\n")) {
		t.Error("a difference after a break was excused")
	}
	if SameBody("fetchmail", a, append(a, 'x')) {
		t.Error("bodies of different lengths were equal")
	}
}
