package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/loadgen"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/proxy"
	"github.com/popgate/popgate/throttle"
	"github.com/popgate/popgate/upstream"
)

// BenchmarkThrottleHogs measures normal users' session latency through
// popgate in front of a real Dovecot limited to 4 sessions, without and with
// 3 hogs polling continuously, with throttling off and on (default
// settings, but for soft limits of 2 MB and 500 messages so that a 4 MB hog
// counts as one). 50 normal users (5 small messages each) are polled by 8
// concurrent clients, 400 sessions per case; each hog holds 1,000 messages
// of 4 KB and downloads them all at every poll.
//
//	go test -run '^$' -bench BenchmarkThrottleHogs -benchtime 1x ./e2e
func BenchmarkThrottleHogs(b *testing.B) {
	hogMbox := hogMailbox(b, 1000, 4096)
	users := []testpeer.User{}
	var normals, hogs []loadgen.Credential
	for i := range 50 {
		name := fmt.Sprintf("normal%d", i)
		users = append(users, testpeer.User{Name: name, Password: "pw", Mbox: testpeer.SimpleMbox(5)})
		normals = append(normals, loadgen.Credential{User: name, Password: "pw"})
	}
	for i := range 3 {
		name := fmt.Sprintf("hog%d", i)
		users = append(users, testpeer.User{Name: name, Password: "pw", Mbox: hogMbox})
		hogs = append(hogs, loadgen.Credential{User: name, Password: "pw"})
	}
	dovecot := testpeer.StartDovecot(b, testpeer.DovecotOptions{Users: users})
	script, _ := loadgen.ParseScript("stat,uidl,retr:all")

	for _, tc := range []struct {
		name     string
		throttle bool
		hogs     bool
		enforce  bool
	}{
		{"no_hogs/throttle_off", false, false, false},
		{"no_hogs/throttle_on", true, false, false},
		{"3_hogs/throttle_off", false, true, false},
		{"3_hogs/throttle_on", true, true, false},
		{"3_hogs/throttle_on_enforce_login_delay", true, true, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				cfg := throttle.DefaultConfig()
				cfg.SoftBytes, cfg.SoftMsgs = 2<<20, 500
				cfg.EnforceLoginDelay = tc.enforce
				if !tc.throttle {
					// Without throttling the backend limit still holds,
					// first come first served, and nobody gives up.
					cfg.Mode, cfg.QueueTimeout = throttle.ModeOff, 10*time.Minute
				}
				limits := map[string]int{"legacy": 4}
				thr, err := throttle.New(cfg, throttle.Options{MaxSessions: limits})
				if err != nil {
					b.Fatal(err)
				}
				be := upstream.New(upstream.Options{Name: "legacy", Addr: dovecot.Addr, CommandTimeout: time.Minute})
				gate := startRelay(b, map[string]pop3.Opener{"legacy": be}, "legacy", func(o *proxy.Options) { o.Gate = thr })

				ctx, stopHogs := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				if tc.hogs {
					wg.Go(func() {
						loadgen.Run(ctx, loadgen.Options{Addr: gate.Addr, Users: hogs, Clients: 3, Duration: 10 * time.Minute, Script: script, Timeout: 10 * time.Minute})
					})
					time.Sleep(2 * time.Second) // the hogs are polling
				}
				rep, err := loadgen.Run(context.Background(), loadgen.Options{
					Addr: gate.Addr, Users: normals, Clients: 8, Sessions: 400, Script: script, Timeout: 2 * time.Minute,
				})
				stopHogs()
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				if rep.Failed > 0 {
					b.Errorf("normal users: %d failed sessions: %v", rep.Failed, rep.Errors)
				}
				b.ReportMetric(rep.Session.P50, "p50_ms")
				b.ReportMetric(rep.Session.P99, "p99_ms")
				b.ReportMetric(rep.PerSecond, "sessions/s")
			}
		})
	}
}

// hogMailbox is an mbox of n messages with bodies of size bytes.
func hogMailbox(b *testing.B, n, size int) []byte {
	b.Helper()
	path := b.TempDir() + "/hog"
	if err := loadgen.WriteMbox(path, "hog", n, loadgen.Sizes{Min: size, Max: size}); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}
