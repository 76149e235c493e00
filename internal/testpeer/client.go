package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// clientTimeout bounds one run of a client program.
const clientTimeout = 60 * time.Second

// Message is one message as a client retrieved it: Body holds the bytes the
// client stored (each client's doc says what it changes), UIDL the unique-id
// the client saw for it ("" where the client does not tell).
type Message struct {
	UIDL string
	Body []byte
}

// Poller is one configured client with its own persistent "seen" state:
// every Poll is a new session, and in keep mode a later Poll fetches only
// messages whose UIDL the client has not seen before. A Poller is not safe
// for concurrent use; make one per goroutine.
type Poller struct {
	Name string // the client program: "poplib", "fetchmail", ...

	t    testing.TB
	dir  string // the client's private state directory
	runs int
	poll func(ctx context.Context, outDir string) ([]Message, error)
	// addr is the server the next Poll talks to, for clients that can be
	// pointed elsewhere (SetAddr); "" for the others.
	addr string
}

// SetAddr points the following polls at another server (one instance of
// several behind a balancer), keeping the client's state. Only clients
// that read addr at each poll support it.
func (p *Poller) SetAddr(addr string) {
	p.t.Helper()
	if p.addr == "" {
		p.t.Fatalf("testpeer: %s cannot change its server", p.Name)
	}
	p.addr = addr
}

// Poll runs one session and returns the new messages in server order. Any
// client error fails the test that created the Poller.
func (p *Poller) Poll() []Message {
	p.t.Helper()
	msgs, err := p.TryPoll()
	if err != nil {
		p.t.Fatalf("testpeer: %s: %v", p.Name, err)
	}
	return msgs
}

// TryPoll is Poll for tests that expect a failure (wrong password, refused
// login): it returns the error, which includes the client's output.
func (p *Poller) TryPoll() ([]Message, error) {
	p.runs++
	out := filepath.Join(p.dir, fmt.Sprintf("poll%d", p.runs))
	if err := os.Mkdir(out, 0o700); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	return p.poll(ctx, out)
}

func newPoller(t testing.TB, name string) *Poller {
	return &Poller{Name: name, t: t, dir: t.TempDir()}
}

// NewClient is the shape shared by every client constructor.
type NewClient func(t testing.TB, addr, user, pass string) *Poller

// ClientSpec names a client constructor.
type ClientSpec struct {
	Name string
	New  NewClient
}

// Clients lists every real client, for tests that run the same checks with
// each. poplib comes first: it is the only one that returns exact bytes.
func Clients() []ClientSpec {
	return []ClientSpec{
		{"poplib", func(t testing.TB, addr, user, pass string) *Poller { return NewPoplib(t, addr, user, pass) }},
		{"fetchmail", NewFetchmail},
		{"mpop", NewMpop},
		{"getmail", NewGetmail},
		{"curl", NewCurl},
	}
}

// run runs a client program with a clean, private environment and returns
// its combined output; a failure names the program and includes the output.
func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "LC_ALL=C"}, env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, out.Bytes())
	}
	return out.Bytes(), nil
}

// readDelivered reads the files a delivery script wrote into dir, in the
// order they were written (their names are sequence numbers).
func readDelivered(dir string) ([][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	bodies := make([][]byte, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, data)
	}
	return bodies, nil
}

// deliverScript is an MDA that stores each message it is piped into the
// directory given as its first argument, under a sequence number.
const deliverScript = `#!/bin/sh
set -e
n=$(ls "$1" | wc -l)
exec cat >"$1/$(printf %06d "$n")"
`

// writeDeliverScript writes deliverScript into dir and returns its path.
func writeDeliverScript(dir string) (string, error) {
	path := filepath.Join(dir, "deliver.sh")
	return path, os.WriteFile(path, []byte(deliverScript), 0o755)
}

// mdaClient is the setup shared by the clients that deliver through
// deliverScript: the program, its Poller (whose addr is the server) and
// the path of the delivery script.
type mdaClient struct {
	*Poller
	bin, mda string
}

func newMDAClient(t testing.TB, program, addr string) mdaClient {
	t.Helper()
	c := mdaClient{bin: Require(t, program), Poller: newPoller(t, program)}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("testpeer: %s: %v", program, err)
	}
	c.addr = addr
	var err error
	if c.mda, err = writeDeliverScript(c.dir); err != nil {
		t.Fatalf("testpeer: %s: %v", program, err)
	}
	return c
}

// hostPort is the server of the next poll.
func (c mdaClient) hostPort() (host, port string) {
	host, port, _ = net.SplitHostPort(c.addr)
	return host, port
}

// tracedMessages pairs the bodies delivered into outDir with the UIDLs of
// the client's debug output.
func tracedMessages(out []byte, syn traceSyntax, outDir string) ([]Message, error) {
	tr, err := parseTrace(out, syn)
	if err != nil {
		return nil, err
	}
	bodies, err := readDelivered(outDir)
	if err != nil {
		return nil, err
	}
	msgs, err := tr.messages(bodies)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	return msgs, nil
}
