package testpeer

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

//go:embed poplib_client.py
var poplibScript []byte

// PoplibOption changes how the poplib client connects or what it leaves.
type PoplibOption func(*poplibConfig)

type poplibConfig struct {
	delete bool
	tls    string // none, stls, implicit
	caFile string
}

// PoplibDelete deletes each message after retrieving it, instead of keeping
// it on the server.
func PoplibDelete() PoplibOption { return func(c *poplibConfig) { c.delete = true } }

// PoplibSTLS upgrades the connection with STLS. The server certificate must
// chain to caFile and name the host of the address (127.0.0.1 for
// NewTLSFiles certificates); caFile "" accepts any certificate.
func PoplibSTLS(caFile string) PoplibOption {
	return func(c *poplibConfig) { c.tls, c.caFile = "stls", caFile }
}

// PoplibImplicitTLS connects with TLS from the first byte (pop3s), checking
// the certificate as PoplibSTLS does.
func PoplibImplicitTLS(caFile string) PoplibOption {
	return func(c *poplibConfig) { c.tls, c.caFile = "implicit", caFile }
}

// Poplib fetches all messages once with Python's poplib. Body is exactly
// what the server sent for RETR: CRLF line ends kept, dot-stuffing undone.
func Poplib(t testing.TB, addr, user, pass string, opts ...PoplibOption) []Message {
	t.Helper()
	return NewPoplib(t, addr, user, pass, opts...).Poll()
}

// NewPoplib returns a poplib client that remembers the UIDLs it fetched.
func NewPoplib(t testing.TB, addr, user, pass string, opts ...PoplibOption) *Poller {
	t.Helper()
	python := Require(t, "python3")
	cfg := poplibConfig{tls: "none"}
	for _, o := range opts {
		o(&cfg)
	}
	p := newPoller(t, "poplib")
	script := filepath.Join(p.dir, "poplib_client.py")
	if err := os.WriteFile(script, poplibScript, 0o644); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("testpeer: poplib: %v", err)
	}
	p.addr = addr
	mode := "keep"
	if cfg.delete {
		mode = "delete"
	}
	state := filepath.Join(p.dir, "seen")
	p.poll = func(ctx context.Context, outDir string) ([]Message, error) {
		outFile := filepath.Join(outDir, "messages")
		host, port, err := net.SplitHostPort(p.addr)
		if err != nil {
			return nil, err
		}
		_, err = run(ctx, p.dir, nil, python, script, host, port, user, pass, mode,
			cfg.tls, cfg.caFile, state, outFile)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(outFile)
		if err != nil {
			return nil, err
		}
		return parsePoplibOutput(data)
	}
	return p
}

// parsePoplibOutput reads the "UIDL SIZE\n" BODY "\n" records of poplib_client.py.
func parsePoplibOutput(data []byte) ([]Message, error) {
	var msgs []Message
	for len(data) > 0 {
		head, rest, ok := bytes.Cut(data, []byte("\n"))
		fields := bytes.Fields(head)
		if !ok || len(fields) != 2 {
			return nil, fmt.Errorf("poplib output: bad record header %q", head)
		}
		size, err := strconv.Atoi(string(fields[1]))
		if err != nil || size < 0 || size+1 > len(rest) {
			return nil, fmt.Errorf("poplib output: bad size in %q", head)
		}
		msgs = append(msgs, Message{UIDL: string(fields[0]), Body: bytes.Clone(rest[:size])})
		data = rest[size+1:]
	}
	return msgs, nil
}
