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
	bin := Require(t, "mpop")
	p := newPoller(t, "mpop")
	host, port, err := splitAddr(addr)
	if err != nil {
		t.Fatalf("testpeer: mpop: %v", err)
	}
	mda, err := writeDeliverScript(p.dir)
	if err != nil {
		t.Fatalf("testpeer: mpop: %v", err)
	}
	if strings.ContainsAny(user+pass, "\"\n") {
		t.Fatalf("testpeer: mpop: user and password may not contain '\"' or newlines")
	}
	syn := traceSyntax{send: "--> ", recv: "<-- ", bodies: true}
	p.poll = func(ctx context.Context, outDir string) ([]Message, error) {
		rc := filepath.Join(p.dir, "mpoprc")
		conf := fmt.Sprintf("account default\nhost %s\nport %s\nuser \"%s\"\npassword \"%s\"\n"+
			"tls off\nauth user\nkeep on\nreceived_header off\nuidls_file %s\ndelivery mda \"%s %s\"\n",
			host, port, user, pass, filepath.Join(p.dir, "uidls"), mda, outDir)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		out, err := run(ctx, p.dir, nil, bin, "-C", rc, "--debug")
		if err != nil {
			return nil, err
		}
		tr, err := parseTrace(out, syn)
		if err != nil {
			return nil, err
		}
		bodies, err := readDelivered(outDir)
		if err != nil {
			return nil, err
		}
		return tr.messages(bodies)
	}
	return p
}
