package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/loadgen"
)

// TestThrottleShieldsDovecot puts popgate with throttling in front of a real
// Dovecot limited to 2 sessions. Normal users poll alone first (the
// baseline), then while a hog with a large maildrop polls continuously from
// two clients. The hog's polls get penalties, login delays and only the
// slots left for penalised users; the normal users get no penalty and no
// failure. After the hog deletes its mail it is back to full speed at its
// next poll. (Latencies are logged for comparison; BenchmarkThrottleHogs
// measures them.)
func TestThrottleShieldsDovecot(t *testing.T) {
	users := []testpeer.User{{Name: "hog", Password: "pw", Mbox: testpeer.SimpleMbox(200)}}
	var normals []loadgen.Credential
	for i := range 6 {
		name := fmt.Sprintf("user%d", i)
		users = append(users, testpeer.User{Name: name, Password: "pw", Mbox: testpeer.SimpleMbox(3)})
		normals = append(normals, loadgen.Credential{User: name, Password: "pw"})
	}
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: users})

	gate := startRelay(t, "BACKENDS=legacy=pop3://"+dovecot.Addr+"?max_sessions=2&timeout=20s", "DEFAULT_BACKEND=legacy",
		"THROTTLE=on", "THROTTLE_SOFT_MSGS=50", "THROTTLE_MIN_POLL_INTERVAL=1m", "THROTTLE_DELAY_PER_LEVEL=50ms",
		"THROTTLE_MAX_DELAY=400ms", "THROTTLE_BANDWIDTH=1M", "THROTTLE_QUEUE_TIMEOUT=20s")

	script, _ := loadgen.ParseScript("stat,uidl,retr:all")
	normalLoad := func() *loadgen.Report {
		rep, err := loadgen.Run(context.Background(), loadgen.Options{
			Addr: gate.Addr, Users: normals, Clients: 3, Sessions: 30, Script: script, Timeout: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK != 30 {
			t.Fatalf("normal users: %d of 30 sessions ok, errors %v", rep.OK, rep.Errors)
		}
		return rep
	}
	baseline := normalLoad()

	ctx, stopHog := context.WithCancel(context.Background())
	var hogRep *loadgen.Report
	var wg sync.WaitGroup
	wg.Go(func() {
		hogRep, _ = loadgen.Run(ctx, loadgen.Options{
			Addr: gate.Addr, Users: []loadgen.Credential{{User: "hog", Password: "pw"}}, Clients: 2,
			Duration: 2 * time.Minute, Script: script, Timeout: 30 * time.Second,
		})
	})
	time.Sleep(time.Second) // let the hog's penalty build up
	withHog := normalLoad()
	stopHog()
	wg.Wait()
	t.Logf("normal users alone: session p50 %.1f ms p99 %.1f ms; with the hog: p50 %.1f ms p99 %.1f ms; hog: %d sessions, p50 %.1f ms",
		baseline.Session.P50, baseline.Session.P99, withHog.Session.P50, withHog.Session.P99, hogRep.OK, hogRep.Session.P50)

	// The hog cleans up, and its next poll is not penalised.
	testpeer.Poplib(t, gate.Addr, "hog", "pw", testpeer.PoplibDelete())
	testpeer.Poplib(t, gate.Addr, "hog", "pw")

	lines := gate.sessionLines(t, 60+hogRep.OK)
	penalised := 0
	for _, l := range lines {
		reason, _ := l["throttle_reason"].(string)
		switch {
		case l["user"] != "hog":
			// Normal users may wait for one of the 2 slots ("queue"), but
			// are never penalised.
			if l["result"] != "ok" || num(l["penalty"]) != 0 || strings.Contains(reason, "size") || strings.Contains(reason, "frequency") {
				t.Errorf("normal user's session: %v", l)
			}
		case num(l["penalty"]) > 0:
			penalised++
			// Level 8 at 50 ms a level, capped at 400 ms.
			if num(l["delay_ms"]) < 400 || !strings.Contains(reason, "size") {
				t.Errorf("penalised hog session without its login delay: %v", l)
			}
		}
	}
	for _, l := range lines {
		if l["user"] == "hog" {
			t.Logf("hog session: penalty %v delay_ms %v reason %v msgs %v result %v", l["penalty"], l["delay_ms"], l["throttle_reason"], l["msgs"], l["result"])
		}
	}
	if penalised < 2 {
		t.Errorf("only %d of the hog's sessions were penalised", penalised)
	}
	last := lines[len(lines)-1]
	if last["user"] != "hog" || num(last["penalty"]) != 0 || num(last["delay_ms"]) != 0 || num(last["msgs"]) != 0 {
		t.Errorf("the hog's poll after cleaning up: %v", last)
	}
}

// num reads a numeric session-line field as the observer recorded it.
func num(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case float64:
		return n
	}
	return -1
}
