//go:build linux

package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
)

// getQuickAck reads TCP_QUICKACK: Linux reports 0 while the connection
// delays its ACKs ("pingpong" mode, entered when it sends soon after
// receiving), 1 otherwise.
func getQuickAck(t *testing.T, fd uintptr) int {
	v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK)
	if err != nil {
		t.Errorf("getsockopt TCP_QUICKACK: %v", err)
	}
	return v
}

// armings records what arming quickack did to a socket.
type armings struct {
	t        *testing.T
	n        int // times armed
	wasOff   int // times the kernel was delaying ACKs when armed
	stillOff int // times quickack was still off after arming
}

// watch makes c's connection count its armings, looking at the socket
// before and after each. Under TLS the socket is the one under it.
func watch(t *testing.T, m pop3.Mailbox) *armings {
	t.Helper()
	nc := m.(*mailbox).c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	a, ok := nc.(*ackConn)
	if !ok {
		t.Fatalf("the connection to the server is a %T, not wrapped for quickack", nc)
	}
	w := &armings{t: t}
	a.set = func(fd uintptr) {
		w.n++
		if getQuickAck(t, fd) == 0 {
			w.wasOff++
		}
		setQuickAck(fd)
		if getQuickAck(t, fd) == 0 {
			w.stillOff++
		}
	}
	return w
}

// check wants at least min armings, each of which turned quickack on, and
// one at least that found the kernel delaying ACKs: the arming was due.
func (w *armings) check(what string, min int) {
	w.t.Helper()
	w.t.Logf("%s: armed %d times, %d of them while ACKs were delayed", what, w.n, w.wasOff)
	if w.n < min || w.stillOff > 0 || w.wasOff == 0 {
		w.t.Errorf("%s: armed %d times (want %d or more), %d of them while ACKs were delayed (want some), %d left it off (want none)",
			what, w.n, min, w.wasOff, w.stillOff)
	}
}

// fetchAll retrieves messages 1..n with RETR and then TOP n 5.
func fetchAll(t *testing.T, m pop3.Mailbox, n int) (retr, top []string) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		retr = append(retr, readAll(t, func() (io.ReadCloser, error) { return m.Retr(ctx, i) }))
	}
	for i := 1; i <= n; i++ {
		top = append(top, readAll(t, func() (io.ReadCloser, error) { return m.Top(ctx, i, 5) }))
	}
	return retr, top
}

// kiloMbox is an mbox of n messages of about 1 KB.
func kiloMbox(n int) []byte {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		msg := fmt.Sprintf("Subject: message %d\n\n%s", i, strings.Repeat("The quick brown fox jumps over the lazy dog.\n", 22))
		b.Write(testpeer.MboxMessage([]byte(msg)))
	}
	return []byte(b.String())
}

// popa3d writes a reply in pieces with Nagle on, so each RETR and TOP
// waits for its second piece: quickack is armed for it, while the kernel
// was delaying ACKs, and the messages are the ones popa3d serves directly.
func TestQuickAckPopa3d(t *testing.T) {
	const n = 20
	srv := testpeer.StartPopa3d(t, []testpeer.User{{Name: "alice", Password: "s3cret-pw", Mbox: kiloMbox(n)}})
	cr := pop3.Credentials{Mechanism: pop3.MechUser, User: srv.Login("alice"), Password: "s3cret-pw"}
	raw := testpeer.DialRaw(t, srv.Addr, cr.User, cr.Password)
	var wantRetr, wantTop []string
	for i := 1; i <= n; i++ {
		wantRetr = append(wantRetr, string(raw.Block(fmt.Sprintf("RETR %d", i))))
	}
	for i := 1; i <= n; i++ {
		wantTop = append(wantTop, string(raw.Block(fmt.Sprintf("TOP %d 5", i))))
	}
	raw.Quit()

	m, err := New(testOptions(srv.Addr)).Open(context.Background(), cr)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	w := watch(t, m)
	retr, top := fetchAll(t, m, n)
	for i := range n {
		if retr[i] != wantRetr[i] || top[i] != wantTop[i] {
			t.Errorf("message %d: RETR %d bytes (popa3d %d), TOP %d bytes (popa3d %d)",
				i+1, len(retr[i]), len(wantRetr[i]), len(top[i]), len(wantTop[i]))
		}
	}
	// popa3d splits every one of these replies; a busy machine might now
	// and then deliver both pieces to one read, never half of them.
	w.check(fmt.Sprintf("%d RETRs and %d TOPs", n, n), n)
}

// nagleServer answers each RETR 1 as popa3d does: the status line and the
// message in two writes, with Nagle on, so the message waits for the
// client's ACK of the status line.
func nagleServer(t *testing.T, serverCfg *tls.Config, msg string) string {
	return startFake(t, func(s *pop3test.Conn) {
		s.NetConn().(*net.TCPConn).SetNoDelay(false)
		if serverCfg != nil {
			var ok bool
			if s, ok = s.Handshake(serverCfg); !ok {
				return
			}
		}
		if !login(s) {
			return
		}
		for {
			if cmd, err := s.ReadLine(); err != nil || cmd != "RETR 1\r\n" {
				return // the client closed the connection
			}
			s.Write(fmt.Sprintf("+OK %d octets\r\n", len(msg)))
			s.Write(msg + ".\r\n")
		}
	})
}

// Over TLS quickack is armed on the TCP socket under it.
func TestQuickAckUnderTLS(t *testing.T) {
	const n = 5
	serverCfg, roots := testTLS(t)
	msg := strings.Repeat("a line of the message\r\n", 40)
	o := testOptions(nagleServer(t, serverCfg, msg))
	o.TLS, o.TLSConfig = true, &tls.Config{RootCAs: roots}
	m, err := New(o).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	w := watch(t, m)
	for range n {
		if got := readAll(t, func() (io.ReadCloser, error) { return m.Retr(context.Background(), 1) }); got != msg {
			t.Fatalf("RETR 1: %d bytes, want %d", len(got), len(msg))
		}
	}
	w.check(fmt.Sprintf("%d RETRs", n), n)
}

// quickack=false leaves the connection as dialled.
func TestQuickAckOff(t *testing.T) {
	o := testOptions(nagleServer(t, nil, "x\r\n"))
	o.DelayedACK = true
	m, err := New(o).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	if nc := m.(*mailbox).c.nc; nc != nil {
		if _, ok := nc.(*ackConn); ok {
			t.Errorf("DelayedACK: the connection is wrapped for quickack")
		}
	}
}

// Quickack is armed before a read that continues a reply after a read that
// drained the socket; not after a write (the first piece of a reply is
// sent at once), nor after a read that filled its buffer (more was there).
func TestQuickAckArmedOnlyToWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a, ok := withQuickAck(nc).(*ackConn)
	if !ok {
		t.Fatalf("withQuickAck(%T) did not wrap the TCP connection", nc)
	}
	defer a.Close()
	arms := 0
	a.set = func(fd uintptr) { arms++; setQuickAck(fd) }

	buf := make([]byte, 64)
	// step sends piece from the server (if any), runs do and counts arms.
	step := func(what, piece string, do func(), want int) {
		t.Helper()
		if piece != "" {
			if _, err := srv.Write([]byte(piece)); err != nil {
				t.Fatal(err)
			}
		}
		arms = 0
		do()
		if arms != want {
			t.Errorf("%s: armed %d times, want %d", what, arms, want)
		}
	}
	// read reads one 4-byte piece into a buffer of size bytes.
	read := func(size int) func() {
		return func() {
			if n, err := a.Read(buf[:size]); n != 4 || err != nil {
				t.Fatalf("read %d, %v; want the 4-byte piece", n, err)
			}
		}
	}
	write := func() {
		if _, err := a.Write([]byte("RETR 1\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	step("write", "", write, 0)
	step("first read of the reply", "+OK ", read(64), 0)
	step("read after a read that drained the socket", "body", read(64), 1)
	step("read filling its buffer", "more", read(4), 1)
	step("read after a read that filled its buffer", "tail", read(64), 0)
	step("next write", "", write, 0)
	step("first read of the next reply", ".\r\n+", read(64), 0)
}

// A connection that is not a socket is used as it is.
func TestQuickAckLeavesOtherConnsAlone(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if got := withQuickAck(c1); got != c1 {
		t.Errorf("withQuickAck(net.Pipe) = %T, want the pipe itself", got)
	}
}

// BenchmarkRetrDovecotArms counts, as arms/op, the setsockopt calls that
// quickack costs per RETR from the Dovecot of the test suite, which writes
// a small reply at once and a large one in pieces.
func BenchmarkRetrDovecotArms(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			line := strings.Repeat("x", 70) + "\n"
			msg := "Subject: bench\n\n" + strings.Repeat(line, size/len(line))
			srv := testpeer.StartDovecot(b, testpeer.DovecotOptions{Users: []testpeer.User{
				{Name: "alice", Password: "pw", Mbox: testpeer.MboxMessage([]byte(msg))},
			}})
			ctx := context.Background()
			m, err := New(testOptions(srv.Addr)).Open(ctx, pop3.Credentials{Mechanism: pop3.MechUser, User: "alice", Password: "pw"})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			a, ok := m.(*mailbox).c.nc.(*ackConn)
			if !ok {
				b.Fatalf("the connection is a %T, not wrapped for quickack", m.(*mailbox).c.nc)
			}
			arms := 0
			a.set = func(fd uintptr) { arms++; setQuickAck(fd) }
			b.SetBytes(int64(size))
			for b.Loop() {
				rc, err := m.Retr(ctx, 1)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
			b.ReportMetric(float64(arms)/float64(b.N), "arms/op")
		})
	}
}
