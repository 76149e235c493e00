package backend

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// rawPoll is one client poll over the network: USER, PASS, STAT, UIDL, QUIT.
func rawPoll(b testing.TB, addr, user, pass string) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	r := pop3.NewReader(conn)
	w := bufio.NewWriter(conn)
	for _, line := range []string{"", "USER " + user, "PASS " + pass, "STAT", "UIDL", "QUIT"} {
		if line != "" {
			fmt.Fprintf(w, "%s\r\n", line)
			w.Flush()
		}
		resp, err := r.ReadResponse()
		if err != nil || !resp.OK {
			b.Fatalf("%q: %+v, %v", line, resp, err)
		}
		if line == "UIDL" {
			if _, err := io.Copy(io.Discard, r.DotReader()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPollPeers is the warm poll (login, STAT, UIDL, QUIT on an
// unchanged mbox, after a first poll) against the real popa3d and Dovecot on
// the same spool as BenchmarkPoll, for the ratios in docs/benchmarks.md.
// Each needs its peer (see internal/testpeer) and popa3d needs root.
func BenchmarkPollPeers(b *testing.B) {
	n, size := 5000, 10<<10
	if os.Getenv("POPGATE_BENCH_LARGE") == "1" {
		n, size = 50000, 20<<10
	}
	path := filepath.Join(b.TempDir(), "bench")
	benchSpool(b, path, n, size)
	content, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("popa3d", func(b *testing.B) {
		srv := testpeer.StartPopa3d(b, []testpeer.User{{Name: "bench", Password: "pw-bench", Mbox: content}})
		rawPoll(b, srv.Addr, srv.Login("bench"), "pw-bench")
		for b.Loop() {
			rawPoll(b, srv.Addr, srv.Login("bench"), "pw-bench")
		}
	})
	b.Run("dovecot", func(b *testing.B) {
		srv := testpeer.StartDovecot(b, testpeer.DovecotOptions{Users: []testpeer.User{{Name: "bench", Password: "pw-bench", Mbox: content}}})
		rawPoll(b, srv.Addr, "bench", "pw-bench")
		for b.Loop() {
			rawPoll(b, srv.Addr, "bench", "pw-bench")
		}
	})
	b.Run("native", func(b *testing.B) {
		be, _ := newTestBackend(b, KindMbox, filepath.Dir(path)+"/%u", b.TempDir(), uidl.Native)
		pollOnce(b, be, "bench")
		for b.Loop() {
			pollOnce(b, be, "bench")
		}
	})
}
