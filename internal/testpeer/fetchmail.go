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
// breaks lines longer than 8191 bytes and writes two bytes of uninitialised
// memory before each break, which differ from run to run: for fetchmail,
// lines may differ in those two bytes at the end of a line of at least 8190
// bytes.
func SameBody(client string, a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if client != "fetchmail" {
		return false
	}
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		x, y := la[i], lb[i]
		if bytes.Equal(x, y) {
			continue
		}
		n := len(x)
		if n != len(y) || n < 8190 || !bytes.Equal(x[:n-2], y[:n-2]) {
			return false
		}
	}
	return true
}
