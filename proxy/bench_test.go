package proxy

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
)

// BenchmarkRelayRetr measures one RETR of a 1 MiB message from an
// in-memory Mailbox through the proxy to a client over loopback TCP.
func BenchmarkRelayRetr(b *testing.B) {
	line := strings.Repeat("x", 76) + "\r\n"
	msg := "Subject: big\r\n\r\n" + strings.Repeat(line, (1<<20)/len(line))
	env := startServer(b, func(o *Options, m *pop3test.Mailbox) {
		m.Messages = [][]byte{[]byte(msg)}
	})
	conn, err := net.Dial("tcp", env.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := newClient(b, conn)
	c.r = bufio.NewReaderSize(conn, 64<<10)
	c.expect("+OK *")
	c.auth("+OK 1 messages*")
	end := []byte("\r\n.\r\n")
	buf := make([]byte, 64<<10)
	tail := make([]byte, 0, 2*len(end))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		c.send("RETR 1")
		c.expect("+OK *")
		tail = tail[:0]
		for !bytes.HasSuffix(tail, end) {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.r.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			// Keep only the last few bytes, to spot the terminator.
			tail = append(tail, buf[max(0, n-len(end)):n]...)
			tail = tail[:copy(tail, tail[max(0, len(tail)-len(end)):])]
		}
	}
}
