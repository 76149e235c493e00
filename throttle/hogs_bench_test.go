package throttle

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// The hog simulation: a backend limited to hogSlots sessions, where a
// session holds a slot for a time proportional to the maildrop (the
// legacy server rescans it), 50 normal users polling with a think time and
// some hogs polling continuously. Time is scaled down: MinPollInterval is
// 100ms instead of minutes. Latency is login start to session end, in real
// time, so this is a benchmark, never a test.
const (
	hogSlots       = 4
	normalUsers    = 50
	normalBytes    = 5 << 20
	hogBytes       = 800 << 20
	normalService  = 2 * time.Millisecond
	hogService     = 40 * time.Millisecond
	normalThink    = 50 * time.Millisecond
	simulationTime = 2 * time.Second
)

func BenchmarkHogs(b *testing.B) {
	for _, hogs := range []int{0, 3} {
		for _, on := range []bool{false, true} {
			name := fmt.Sprintf("hogs=%d/throttle=%s", hogs, map[bool]string{false: "off", true: "on"}[on])
			b.Run(name, func(b *testing.B) {
				for range b.N {
					normal, hog := simulate(b, hogs, on)
					b.ReportMetric(ms(percentile(normal, 50)), "normal_p50_ms")
					b.ReportMetric(ms(percentile(normal, 99)), "normal_p99_ms")
					b.ReportMetric(float64(len(normal)), "normal_sessions")
					if hogs > 0 {
						b.ReportMetric(ms(percentile(hog, 50)), "hog_p50_ms")
						b.ReportMetric(float64(len(hog)), "hog_sessions")
					}
				}
			})
		}
	}
}

// simulate runs the load and returns the session latencies of normal users
// and of hogs.
func simulate(b *testing.B, hogs int, on bool) (normal, hog []time.Duration) {
	cfg := DefaultConfig()
	cfg.MinPollInterval = 100 * time.Millisecond
	cfg.DelayPerLevel = 20 * time.Millisecond
	cfg.MaxDelay = 200 * time.Millisecond
	if !on {
		cfg.Mode = ModeOff
	}
	th, err := New(cfg, Options{MaxSessions: map[string]int{"legacy": hogSlots}})
	if err != nil {
		b.Fatal(err)
	}
	// With throttling off the backend's own limit still holds: a FIFO
	// semaphore of the same size.
	fifo := make(chan struct{}, hogSlots)
	session := func(ctx context.Context, user string, bytes int64, service time.Duration) (time.Duration, error) {
		start := time.Now()
		tk, err := th.Admit(ctx, user, "legacy", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		defer tk.Release()
		if !on {
			select {
			case fifo <- struct{}{}:
				defer func() { <-fifo }()
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		tk.Opened(100, bytes)
		if err := sleepTimer(ctx, service); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), simulationTime)
	defer cancel()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	run := func(user string, bytes int64, service, think time.Duration, out *[]time.Duration) {
		defer wg.Done()
		for ctx.Err() == nil {
			d, err := session(ctx, user, bytes, service)
			if err == nil {
				mu.Lock()
				*out = append(*out, d)
				mu.Unlock()
			}
			if sleepTimer(ctx, think) != nil {
				return
			}
		}
	}
	for i := range normalUsers {
		wg.Add(1)
		go run(fmt.Sprintf("user%d", i), normalBytes, normalService, normalThink, &normal)
	}
	for i := range hogs {
		wg.Add(1)
		go run(fmt.Sprintf("hog%d", i), hogBytes, hogService, 0, &hog)
	}
	wg.Wait()
	return normal, hog
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
