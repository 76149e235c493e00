// Package bench holds the in-process relay benchmarks; run.sh measures the
// built binary beside other relays.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/proxy"
	"github.com/popgate/popgate/upstream"
)

// legacyServer is a POP3 server with one message that answers from memory,
// so that a benchmark measures the relay in front of it, not a mail store.
type legacyServer struct {
	addr string
	retr []byte // the whole RETR 1 reply, stuffed, with its status line
	size int
}

func startLegacy(tb testing.TB, msg []byte) *legacyServer {
	tb.Helper()
	var wire bytes.Buffer
	bw := bufio.NewWriter(&wire)
	dw := pop3.NewDotWriter(bw)
	dw.Write(msg)
	dw.Close()
	bw.Flush()
	s := &legacyServer{size: len(msg)}
	s.retr = append([]byte(fmt.Sprintf("+OK %d octets\r\n", len(msg))), wire.Bytes()...)
	s.addr = pop3test.Start(tb, (&pop3test.Script{
		Greeting: pop3test.Lines("+OK legacy ready"),
		Replies: map[string]pop3test.Reply{
			"CAPA": pop3test.Lines("+OK", "USER", "UIDL", "TOP", "."),
			"USER": pop3test.Lines("+OK"),
			"PASS": pop3test.Lines("+OK logged in"),
			"STAT": pop3test.Lines(fmt.Sprintf("+OK 1 %d", len(msg))),
			"LIST": pop3test.Lines("+OK 1 messages", fmt.Sprintf("1 %d", len(msg)), "."),
			"UIDL": pop3test.Lines("+OK", "1 one", "."),
			"NOOP": pop3test.Lines("+OK"),
			"RETR": {Text: string(s.retr)},
			"QUIT": {Text: "+OK bye\r\n", Close: true},
		},
	}).Serve).Addr
	return s
}

// startRelay runs popgate's proxy with an upstream backend pointing at
// legacy, as internal/app wires them for pop3:// backends.
func startRelay(tb testing.TB, legacy string) string {
	tb.Helper()
	srv, err := proxy.New(proxy.Options{
		Backends:       map[string]pop3.Opener{"legacy": upstream.New(upstream.Options{Name: "legacy", Addr: legacy})},
		DefaultBackend: "legacy",
		AuthFailDelay:  -1,
		Hostname:       "pop.bench",
	})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// message returns a body of about size bytes in 78-octet lines, one line in
// 50 starting with a dot so that the relay has stuffing to do.
func message(size int) []byte {
	var b bytes.Buffer
	b.WriteString("Subject: bench\r\n\r\n")
	for i := 0; b.Len() < size; i++ {
		if i%50 == 0 {
			b.WriteString(".")
		}
		b.WriteString(strings.Repeat("x", 76) + "\r\n")
	}
	return b.Bytes()
}

// client is a raw POP3 client that reads with deadlines.
type client struct {
	tb   testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(tb testing.TB, addr string) *client {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	return &client{tb: tb, conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
}

// cmd sends line (unless empty) and returns the status line.
func (c *client) cmd(line string) string {
	c.tb.Helper()
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if line != "" {
		if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
			c.tb.Fatal(err)
		}
	}
	status, err := c.r.ReadString('\n')
	if err != nil {
		c.tb.Fatalf("%q: %v", line, err)
	}
	if !strings.HasPrefix(status, "+OK") {
		c.tb.Fatalf("%q: got %q", line, status)
	}
	return status
}

// block reads a multi-line body up to its terminator and returns its wire
// size, terminator included.
func (c *client) block() int {
	c.tb.Helper()
	n := 0
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			c.tb.Fatal(err)
		}
		n += len(line)
		if string(line) == ".\r\n" {
			return n
		}
	}
}

func (c *client) login() {
	c.tb.Helper()
	c.cmd("")
	c.cmd("USER bob")
	c.cmd("PASS secret")
}

// BenchmarkRelayRetrEndToEnd relays RETR of one message through popgate's
// proxy and upstream client to a legacy server, all over loopback TCP in
// one process, within one session.
func BenchmarkRelayRetrEndToEnd(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10, 1 << 20} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			legacy := startLegacy(b, message(size))
			c := dial(b, startRelay(b, legacy.addr))
			defer c.conn.Close()
			c.login()
			want := len(legacy.retr) - len(strings.SplitN(string(legacy.retr), "\n", 2)[0]) - 1
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				c.cmd("RETR 1")
				if n := c.block(); n != want {
					b.Fatalf("relayed %d octets, want %d", n, want)
				}
			}
		})
	}
}

// BenchmarkRelaySessionEndToEnd runs whole sessions through the relay:
// connect, login, STAT, RETR of one 4 KiB message, QUIT. Each one costs
// the relay a client connection, an upstream login and a session line.
func BenchmarkRelaySessionEndToEnd(b *testing.B) {
	legacy := startLegacy(b, message(4<<10))
	addr := startRelay(b, legacy.addr)
	b.ReportAllocs()
	for b.Loop() {
		c := dial(b, addr)
		c.login()
		if got := c.cmd("STAT"); !strings.HasPrefix(got, "+OK 1 ") {
			b.Fatalf("STAT = %q", got)
		}
		c.cmd("RETR 1")
		c.block()
		c.cmd("QUIT")
		c.conn.Close()
	}
}

// TestRelayEndToEnd checks that what the benchmarks relay arrives intact:
// the client gets the legacy server's stuffed block byte for byte.
func TestRelayEndToEnd(t *testing.T) {
	msg := message(64 << 10)
	legacy := startLegacy(t, msg)
	c := dial(t, startRelay(t, legacy.addr))
	defer c.conn.Close()
	c.login()
	c.cmd("RETR 1")
	var got bytes.Buffer
	for {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(line)
		if line == ".\r\n" {
			break
		}
	}
	_, wantBlock, _ := bytes.Cut(legacy.retr, []byte("\r\n"))
	if !bytes.Equal(got.Bytes(), wantBlock) {
		t.Fatalf("relayed block differs from the legacy server's (%d vs %d octets)", got.Len(), len(wantBlock))
	}
	c.cmd("QUIT")
}

// BenchmarkIdleSessionMemory holds 1,000 authenticated sessions open
// through the relay and reports what each costs the process: Go heap plus
// goroutine stacks, after a collection, per session. The client side, the
// legacy server and the relay share the process, so the figure counts all
// three; compare it between versions, and take the relay's own figure from
// bench/run.sh case F.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const sessions = 1000
	legacy := startLegacy(b, message(1<<10))
	addr := startRelay(b, legacy.addr)
	base := runtime.NumGoroutine()
	for b.Loop() {
		before := inUse()
		clients := make([]*client, sessions)
		for i := range clients {
			clients[i] = dial(b, addr)
			clients[i].r = bufio.NewReaderSize(clients[i].conn, 64)
			clients[i].login()
		}
		after := inUse()
		b.ReportMetric(float64(after-before)/sessions, "B/session")
		for _, c := range clients {
			c.conn.Close()
		}
		// Let the relay's sessions end, so the next round starts clean.
		for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > base && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// inUse returns the bytes of live heap objects and goroutine stacks after a
// collection.
func inUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}
