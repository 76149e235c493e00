package testpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Fetchmail fetches all messages once with fetchmail; see NewFetchmail.
func Fetchmail(t testing.TB, addr, user, pass string) []Message {
	t.Helper()
	return NewFetchmail(t, addr, user, pass).Poll()
}

// NewFetchmail returns a fetchmail client in keep mode with UIDL tracking
// (--uidl, its own idfile), plain POP3 (no opportunistic TLS), delivering
// to an MDA that stores each message as piped.
//
// What fetchmail changes: line ends become LF, lines longer than 8191
// bytes are broken (6.4.37 also writes two stray bytes before each break),
// and it fetches with "TOP n 99999999", not RETR. With
// --invisible and "no rewrite" it adds and rewrites no headers.
func NewFetchmail(t testing.TB, addr, user, pass string) *Poller {
	t.Helper()
	return NewFetchmailProto(t, addr, user, pass, "pop3")
}

// NewFetchmailProto is NewFetchmail with the given fetchmail protocol:
// "pop3", or "apop" to log in with APOP only.
func NewFetchmailProto(t testing.TB, addr, user, pass, proto string) *Poller {
	t.Helper()
	c := newMDAClient(t, "fetchmail", addr)
	syn := traceSyntax{send: "fetchmail: POP3> ", recv: "fetchmail: POP3< ", anywhere: true}
	c.poll = func(ctx context.Context, outDir string) ([]Message, error) {
		host, port := c.hostPort()
		rc := filepath.Join(c.dir, "fetchmailrc")
		conf := fmt.Sprintf("set no syslog\npoll %s service %s protocol %s uidl\n"+
			"  user %s there with password %s is %s here\n"+
			"  keep\n  sslproto ''\n  no rewrite\n  mda \"%s %s\"\n",
			host, port, proto, rcQuote(user), rcQuote(pass), rcQuote(user), c.mda, outDir)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		out, err := run(ctx, c.dir, []string{"FETCHMAILHOME=" + c.dir}, c.bin,
			"--invisible", "-v", "-v", "-f", rc, "-i", filepath.Join(c.dir, "idfile"), "--pidfile", filepath.Join(c.dir, "pid"))
		// Exit status 1 means "no mail", not failure.
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 1 {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		return tracedMessages(out, syn, outDir)
	}
	return c.Poller
}

// rcQuote quotes a string for a fetchmailrc.
func rcQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// SameBody reports whether two bodies that client stored from two sessions
// hold the same message. They must be equal, except that fetchmail 6.4.37
// breaks lines longer than 8191 bytes and writes up to two bytes of
// uninitialised memory before each break, which differ from run to run in
// value and in number (and may be a newline themselves). So for fetchmail
// the two are walked side by side, and where they part at the end of a
// line of at least fetchmailBreak bytes, each skips to just past its last
// newline within three bytes; anywhere else a difference is a difference.
func SameBody(client string, a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if client != "fetchmail" {
		return false
	}
	i, j, colA, colB := 0, 0, 0, 0
	for i < len(a) && j < len(b) {
		if a[i] == b[j] {
			colA, colB = advance(a[i], colA), advance(b[j], colB)
			i, j = i+1, j+1
			continue
		}
		if colA < fetchmailBreak && colB < fetchmailBreak {
			return false
		}
		ni, nj := pastBreak(a, i), pastBreak(b, j)
		if ni < 0 || nj < 0 {
			return false
		}
		i, j, colA, colB = ni, nj, 0, 0
	}
	return i == len(a) && j == len(b)
}

// fetchmailBreak is the shortest line fetchmail breaks, less its junk.
const fetchmailBreak = 8188

// advance returns the column after byte c.
func advance(c byte, col int) int {
	if c == '\n' {
		return 0
	}
	return col + 1
}

// pastBreak returns the index just past the last newline among x[i:i+3]
// (a junk byte may be a newline before the break's own), or -1.
func pastBreak(x []byte, i int) int {
	past := -1
	for k := i; k < len(x) && k < i+3; k++ {
		if x[k] == '\n' {
			past = k + 1
		}
	}
	return past
}
