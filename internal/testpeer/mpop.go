package testpeer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Mpop fetches all messages once with mpop; see NewMpop.
func Mpop(t testing.TB, addr, user, pass string) []Message {
	t.Helper()
	return NewMpop(t, addr, user, pass).Poll()
}

// NewMpop returns an mpop client in keep mode (its own uidls_file), plain
// POP3 with USER/PASS, pipelining as mpop decides, delivering to an MDA that
// stores each message as piped.
//
// What mpop changes: line ends become LF. With received_header off it adds
// no header, and MDA delivery adds no From_ line.
func NewMpop(t testing.TB, addr, user, pass string) *Poller {
	t.Helper()
	return NewMpopAuth(t, addr, user, pass, "user")
}

// NewMpopAuth is NewMpop logging in with the given mpop auth method
// ("user", "plain", "login", "apop", "cram-md5"; see mpop(1)).
func NewMpopAuth(t testing.TB, addr, user, pass, auth string) *Poller {
	t.Helper()
	c := newMDAClient(t, "mpop", addr)
	if strings.ContainsAny(user+pass, "\"\n") {
		t.Fatalf("testpeer: mpop: user and password may not contain '\"' or newlines")
	}
	syn := traceSyntax{send: "--> ", recv: "<-- ", bodies: true}
	c.poll = func(ctx context.Context, outDir string) ([]Message, error) {
		host, port := c.hostPort()
		rc := filepath.Join(c.dir, "mpoprc")
		conf := fmt.Sprintf("account default\nhost %s\nport %s\nuser \"%s\"\npassword \"%s\"\n"+
			"tls off\nauth %s\nkeep on\nreceived_header off\nuidls_file %s\ndelivery mda \"%s %s\"\n",
			host, port, user, pass, auth, filepath.Join(c.dir, "uidls"), c.mda, outDir)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		out, err := run(ctx, c.dir, nil, c.bin, "-C", rc, "--debug")
		if err != nil {
			return nil, err
		}
		return tracedMessages(out, syn, outDir)
	}
	return c.Poller
}
