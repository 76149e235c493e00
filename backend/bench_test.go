package backend

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popgate/popgate/uidl"
)

// benchSpool writes an mbox of n messages of about size bytes each.
func benchSpool(b *testing.B, path string, n, size int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	line := strings.Repeat("lorem ipsum dolor sit amet ", 3) + "\n"
	for i := range n {
		writeBenchMsg(w, i, size, line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

func writeBenchMsg(w *bufio.Writer, i, size int, line string) {
	fmt.Fprintf(w, "From bench@example.org Sun Nov 29 02:00:00 2026\nReceived: from h%d by mx.example.org\nMessage-ID: <%d@bench>\nDate: Sun, 29 Nov 2026 02:00:00 +0000\nSubject: bench %d\n\n", i, i, i)
	for n := 0; n < size; n += len(line) {
		w.WriteString(line)
	}
	w.WriteString("\n")
}

// pollOnce is what one client poll costs the backend: login, STAT, UIDL,
// QUIT (UPDATE without deletions).
func pollOnce(b *testing.B, be *Backend, user string) {
	ctx := context.Background()
	m, err := open(be, user)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := m.Stat(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Uidl(ctx, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Update(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPoll measures a poll of a large mbox: cold (no index), warm
// (unchanged since the last poll) and after 10 new messages. The default
// spool is 5,000 messages of 10 KB (50 MB); POPGATE_BENCH_LARGE=1 uses
// 50,000 messages of 20 KB (1 GB).
func BenchmarkPoll(b *testing.B) {
	n, size := 5000, 10<<10
	if os.Getenv("POPGATE_BENCH_LARGE") == "1" {
		n, size = 50000, 20<<10
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "bench")
	benchSpool(b, path, n, size)
	st, _ := os.Stat(path)
	b.Logf("spool: %d messages, %d MB", n, st.Size()>>20)
	pattern := dir + "/%u"
	for _, scheme := range []uidl.Scheme{uidl.Native, uidl.Popa3d} {
		b.Run("cold/"+string(scheme), func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				be, _ := newTestBackend(b, KindMbox, pattern, "", scheme)
				pollOnce(b, be, "bench")
				be.Close()
			}
		})
	}
	b.Run("warm", func(b *testing.B) {
		be, _ := newTestBackend(b, KindMbox, pattern, b.TempDir(), uidl.Native)
		pollOnce(b, be, "bench")
		var cpu cpuMeter
		for b.Loop() {
			cpu.start()
			pollOnce(b, be, "bench")
			cpu.stop()
		}
		cpu.report(b)
	})
	b.Run("append10", func(b *testing.B) {
		be, _ := newTestBackend(b, KindMbox, pattern, b.TempDir(), uidl.Native)
		pollOnce(b, be, "bench")
		line := strings.Repeat("appended ", 8) + "\n"
		next := n
		var cpu cpuMeter
		for b.Loop() {
			b.StopTimer()
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			w := bufio.NewWriter(f)
			for range 10 {
				writeBenchMsg(w, next, size, line)
				next++
			}
			w.Flush()
			f.Close()
			b.StartTimer()
			cpu.start()
			pollOnce(b, be, "bench")
			b.StopTimer()
			be.mboxes.Flush() // the index write behind the poll counts too
			cpu.stop()
			b.StartTimer()
		}
		cpu.report(b)
	})
}

// cpuMeter adds up the process's CPU time (user and system, every thread:
// the garbage collector and the index writer too) over the measured parts
// of a benchmark. On a shared machine it varies less than the elapsed
// time, which includes waiting for a CPU.
type cpuMeter struct {
	total time.Duration
	at    time.Duration
	n     int
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuMeter) start() { c.at = processCPU() }
func (c *cpuMeter) stop()  { c.total += processCPU() - c.at; c.n++ }

func (c *cpuMeter) report(b *testing.B) {
	if c.n > 0 {
		b.ReportMetric(float64(c.total.Microseconds())/1000/float64(c.n), "cpu-ms/op")
	}
}
