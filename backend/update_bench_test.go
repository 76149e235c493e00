package backend

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// updatePatterns are the messages (1-based) that BenchmarkUpdate deletes
// from a spool of n messages.
func updatePatterns(n int) map[string][]int {
	first, last, spread := []int{}, []int{}, []int{}
	for i := range 10 {
		first = append(first, i+1)
		last = append(last, n-9+i)
		spread = append(spread, i*n/10+1)
	}
	return map[string][]int{"first10": first, "last10": last, "spread10": spread}
}

// writeBytes is what this process has caused to be written to storage so
// far (/proc/self/io), or -1.
func writeBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return -1
}

// BenchmarkUpdate measures UPDATE (QUIT after ten DELEs) of an mbox: the
// first ten, the last ten and ten spread-out messages, reporting the time
// and the bytes written to storage (write_bytes, counted when a page is
// dirtied, after a sync). The default spool, about 90 MB in 4,500 messages
// of 20 KB, is the largest the real popa3d accepts (its open limit is
// 100 MB), and popa3d does the same in the same run, over a pipe as under
// inetd (needs root). POPGATE_BENCH_LARGE=1 uses 50,000 messages of 20 KB
// (1 GB), native only.
func BenchmarkUpdate(b *testing.B) {
	n, size := 4500, 20<<10
	large := os.Getenv("POPGATE_BENCH_LARGE") == "1"
	if large {
		n = 50000
	}
	master := filepath.Join(b.TempDir(), "master")
	benchSpool(b, master, n, size)
	content, err := os.ReadFile(master)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("spool: %d messages, %d MB", n, len(content)>>20)
	patterns := updatePatterns(n)
	for _, name := range []string{"first10", "last10", "spread10"} {
		dele := patterns[name]
		b.Run("native/"+name, func(b *testing.B) {
			dir := b.TempDir()
			be, _ := newTestBackend(b, KindMbox, dir+"/%u", b.TempDir(), uidl.Native)
			path := filepath.Join(dir, "bench")
			var written int64
			var spent time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := os.WriteFile(path, content, 0o600); err != nil {
					b.Fatal(err)
				}
				pollOnce(b, be, "bench") // index it, as a client's earlier poll did
				m, err := open(be, "bench")
				if err != nil {
					b.Fatal(err)
				}
				for _, i := range dele {
					if err := m.Dele(context.Background(), i); err != nil {
						b.Fatal(err)
					}
				}
				syscall.Sync()
				before, start := writeBytes(), time.Now()
				b.StartTimer()
				if _, err := m.Update(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				spent += time.Since(start)
				syscall.Sync()
				written += writeBytes() - before
				b.StartTimer()
			}
			reportUpdate(b, spent, written)
		})
	}
	if large {
		return
	}
	for _, name := range []string{"first10", "last10", "spread10"} {
		dele := patterns[name]
		b.Run("popa3d/"+name, func(b *testing.B) {
			srv := testpeer.StartPopa3d(b, []testpeer.User{{Name: "bench", Password: "pw-bench", Mbox: content}})
			bin := testpeer.Require(b, "popa3d")
			var written int64
			var spent time.Duration
			for b.Loop() {
				b.StopTimer() // popa3d runs in another process: timed below
				srv.SetMbox(b, "bench", content)
				syscall.Sync()
				d, blocks := popa3dUpdate(b, bin, srv.Login("bench"), "pw-bench", dele)
				if got := len(srv.Mbox(b, "bench")); got >= len(content) {
					b.Fatalf("popa3d deleted nothing: %d bytes left of %d", got, len(content))
				}
				spent += d
				written += blocks * 512
				b.StartTimer()
			}
			reportUpdate(b, spent, written)
		})
	}
}

// reportUpdate reports the time from QUIT to +OK and the bytes written per
// UPDATE. ns/op is not comparable between native (in process) and popa3d
// (another process, timed from outside).
func reportUpdate(b *testing.B, spent time.Duration, written int64) {
	b.ReportMetric(float64(spent.Microseconds())/1000/float64(b.N), "update-ms/op")
	b.ReportMetric(float64(written)/float64(b.N)/(1<<20), "MB-written/op")
}

// popa3dUpdate runs one popa3d session over a pipe, as inetd would: login,
// DELE each message, QUIT. It returns the time from QUIT to its +OK and
// the 512-byte blocks popa3d (and the children it forked) wrote.
func popa3dUpdate(b *testing.B, bin, user, pass string, dele []int) (time.Duration, int64) {
	cmd := exec.Command(bin)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := pop3.NewReader(out)
	w := bufio.NewWriter(in)
	say := func(line string) {
		if line != "" {
			fmt.Fprintf(w, "%s\r\n", line)
			w.Flush()
		}
		resp, err := r.ReadResponse()
		if err != nil || !resp.OK {
			cmd.Process.Kill()
			b.Fatalf("popa3d: %q: %+v, %v", line, resp, err)
		}
	}
	say("")
	say("USER " + user)
	say("PASS " + pass)
	for _, i := range dele {
		say("DELE " + strconv.Itoa(i))
	}
	start := time.Now()
	say("QUIT")
	d := time.Since(start)
	in.Close()
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("popa3d: %v", err)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return d, 0
	}
	return d, ru.Oublock
}
