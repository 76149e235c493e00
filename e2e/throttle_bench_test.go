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
				vars := []string{"BACKENDS=legacy=pop3://" + dovecot.Addr + "?max_sessions=4&timeout=1m", "DEFAULT_BACKEND=legacy",
					"THROTTLE_SOFT_BYTES=2M", "THROTTLE_SOFT_MSGS=500", fmt.Sprintf("THROTTLE_ENFORCE_LOGIN_DELAY=%t", tc.enforce)}
				if tc.throttle {
					vars = append(vars, "THROTTLE=on")
				} else {
					// Without throttling the backend limit still holds,
					// first come first served, and nobody gives up.
					vars = append(vars, "THROTTLE=off", "THROTTLE_QUEUE_TIMEOUT=10m")
				}
				gate := startRelay(b, vars...)

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
