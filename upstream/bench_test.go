package upstream

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
)

// BenchmarkRetr measures relaying one 1 MiB message over loopback: the
// fake server answers every RETR with the same pre-stuffed block.
func BenchmarkRetr(b *testing.B) {
	line := strings.Repeat("x", 76) + "\r\n"
	msg := strings.Repeat(line, (1<<20)/len(line))
	reply := []byte("+OK " + strconv.Itoa(len(msg)) + " octets\r\n" + msg + ".\r\n")
	addr := startFake(b, func(s *pop3test.Conn) {
		s.NetConn().SetDeadline(timeNever)
		if !login(s) {
			return
		}
		for {
			cmd, err := s.Reader().ReadString('\n')
			if err != nil || cmd != "RETR 1\r\n" {
				return
			}
			if _, err := s.NetConn().Write(reply); err != nil {
				return
			}
		}
	})
	m, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		rc, err := m.Retr(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		if err != nil || n != int64(len(msg)) {
			b.Fatalf("copied %d, %v; want %d", n, err, len(msg))
		}
		rc.Close()
	}
}
