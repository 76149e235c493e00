package app

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
)

// TestInstancesShareRedis runs two servers on one redis-server: a client
// polls the legacy Dovecot through the first (which learns the UIDLs), then
// polls through the second, where the user is on the native backend, and
// fetches only the message that arrived after the move. "uidl show" reads
// the map while both run.
func TestInstancesShareRedis(t *testing.T) {
	rdb := testpeer.StartRedis(t)
	dovecot, dir, spools, users := movingUser(t)
	shared := []string{
		"POPGATE_STORE=" + rdb.URL(2),
		"POPGATE_STORE_PREFIX=site:",
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + ",native=mbox://" + spools + "/%u",
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_ADMIN_LISTEN=off",
		"POPGATE_LISTEN=127.0.0.1:0",
	}
	instance := func(name, backend string) *server {
		vars := append([]string{
			"POPGATE_DATA_DIR=" + filepath.Join(dir, name),
			"POPGATE_DEFAULT_BACKEND=" + backend,
		}, shared...)
		return startServer(t, vars, Hooks{})
	}
	first, second := instance("one", "legacy"), instance("two", "native")

	client := testpeer.NewPoplib(t, first.addrs.Plain.String(), "rachel", "pw")
	if got := client.Poll(); len(got) != 5 {
		t.Fatalf("first poll on legacy fetched %d messages, want 5", len(got))
	}
	deliverAfterMove(t, filepath.Join(spools, "rachel"))

	client.SetAddr(second.addrs.Plain.String())
	got := client.Poll()
	if len(got) != 1 || !bytes.Contains(got[0].Body, []byte("after the move")) {
		t.Fatalf("poll through the second instance fetched %d messages, want only the new one", len(got))
	}

	var cmdVars []string
	for _, v := range shared {
		cmdVars = append(cmdVars, strings.TrimPrefix(v, "POPGATE_"))
	}
	code, stdout, stderr := runCmd(t, append(cmdVars, "DEFAULT_BACKEND=legacy"), "uidl", "show", "rachel", "native")
	if code != exitOK {
		t.Fatalf("uidl show while serving: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "\n"); n < 5 {
		t.Errorf("uidl show printed %d lines, want the 5 learned messages:\n%s", n, stdout)
	}
	for _, s := range []*server{first, second} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("exit %d", code)
		}
	}
}

// TestSessionLockSpansInstances holds a session on one instance: a login
// as the same user through the other gets [IN-USE], and its session line
// names the holder. Once the first session ends the second gets in.
func TestSessionLockSpansInstances(t *testing.T) {
	rdb := testpeer.StartRedis(t)
	dir := t.TempDir()
	mkMaildir(t, filepath.Join(dir, "mail", "kim", "Maildir"), "hello")
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("kim:{PLAIN}pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	instance := func(name string) *server {
		return startServer(t, []string{
			"POPGATE_LISTEN=127.0.0.1:0",
			"POPGATE_ADMIN_LISTEN=off",
			"POPGATE_STORE=" + rdb.URL(0),
			"POPGATE_BACKENDS=native=maildir://" + dir + "/mail/%u/Maildir",
			"POPGATE_USERS_FILE=" + users,
			"POPGATE_DATA_DIR=" + filepath.Join(dir, name),
			"POPGATE_AUTH_FAIL_DELAY=0s",
			"POPGATE_HOSTNAME=" + name + ".example",
		}, Hooks{})
	}
	first, second := instance("one"), instance("two")

	holder := testpeer.Dial(t, first.addrs.Plain.String())
	holder.Expect("USER kim", "+OK")
	holder.Expect("PASS pw", "+OK")
	if answer := loginOnce(t, second.addrs.Plain.String(), "kim", "pw"); !strings.HasPrefix(answer, "-ERR [IN-USE]") {
		t.Errorf("login on the second instance while the first holds the maildrop: %q", answer)
	}
	holder.Expect("QUIT", "+OK")
	holder.Close()
	if answer := loginOnce(t, second.addrs.Plain.String(), "kim", "pw"); !strings.HasPrefix(answer, "+OK") {
		t.Errorf("login after the first session ended: %q", answer)
	}
	for _, s := range []*server{first, second} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("exit %d", code)
		}
	}
	lines := second.stdout.Lines(t, "session")
	if len(lines) == 0 || !strings.Contains(fmt.Sprint(lines[0]), "one.example") {
		t.Errorf("the refused session's line does not name the holder: %v", lines)
	}
}

// TestRedisOutage stops the shared redis-server while clients poll both
// instances and starts it again: the legacy instance serves every session,
// unthrottled and without learning during the outage (logged once,
// counted); the native instance is unready and answers the moved user
// [SYS/TEMP], never a listing with new UIDLs; once Redis is back both
// recover by themselves and the moved user's next poll fetches only the new
// message.
func TestRedisOutage(t *testing.T) {
	rdb := testpeer.StartRedis(t)
	dovecot, dir, spools, users := movingUser(t)
	shared := []string{
		"POPGATE_STORE=" + rdb.URL(0),
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + ",native=mbox://" + spools + "/%u",
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0",
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_HEALTH_INTERVAL=50ms",
		// Polls moments apart are penalised, with short delays.
		"POPGATE_THROTTLE_SOFT_MSGS=3",
		"POPGATE_THROTTLE_MIN_POLL_INTERVAL=1h",
		"POPGATE_THROTTLE_DELAY_PER_LEVEL=10ms",
		"POPGATE_THROTTLE_MAX_DELAY=30ms",
	}
	instance := func(name, backend string) *server {
		return startServer(t, append([]string{
			"POPGATE_DATA_DIR=" + filepath.Join(dir, name),
			"POPGATE_DEFAULT_BACKEND=" + backend,
		}, shared...), Hooks{})
	}
	legacy, native := instance("one", "legacy"), instance("two", "native")
	ready := func(s *server) (bool, string) {
		body, code := adminGet(t, s.addrs.Admin, "/readyz")
		return code == http.StatusOK, body
	}
	pop3test.Eventually(t, "ready", func() bool { ok, _ := ready(native); return ok })

	client := testpeer.NewPoplib(t, legacy.addrs.Plain.String(), "rachel", "pw")
	if got := client.Poll(); len(got) != 5 {
		t.Fatalf("first poll on legacy fetched %d messages, want 5", len(got))
	}
	learned := probeSession(legacy.addrs.Plain.String(), "rachel", "pw")
	if learned.err != nil || len(learned.uidls) != 5 {
		t.Fatalf("legacy UIDL listing: %v %q", learned.err, learned.uidls)
	}

	// Three clients poll the legacy instance, one (a maildrop takes one
	// session at a time) the native one, before, during and after the
	// outage.
	stopLegacy := probeLoad(legacy.addrs.Plain.String(), "rachel", "pw", 3)
	stopNative := probeLoad(native.addrs.Plain.String(), "rachel", "pw", 1)
	time.Sleep(300 * time.Millisecond)
	stopped := time.Now()
	rdb.Stop()
	pop3test.Eventually(t, "/readyz to turn 503", func() bool { ok, _ := ready(native); return !ok })
	outage := time.Now()
	if _, body := ready(native); !strings.Contains(body, `"degraded":["store"]`) {
		t.Errorf("/readyz does not say the store is down: %s", body)
	}
	time.Sleep(2 * time.Second)
	back := time.Now()
	rdb.Start()
	pop3test.Eventually(t, "/readyz to recover", func() bool { ok, _ := ready(native); return ok })
	recovered := time.Now()
	time.Sleep(500 * time.Millisecond)
	legacyRuns, nativeRuns := stopLegacy(), stopNative()

	during := func(p probe) bool { return p.start.After(outage) && p.end.Before(back) }
	inOutage := 0
	for _, p := range legacyRuns {
		if p.err != nil || !strings.HasPrefix(p.pass, "+OK") || !slices.Equal(p.uidls, learned.uidls) {
			t.Errorf("legacy session at %v: %q %q %v; want the legacy listing", p.start.Sub(outage), p.pass, p.uidls, p.err)
		}
		if during(p) {
			inOutage++
		}
	}
	if inOutage == 0 {
		t.Error("no legacy session ran while Redis was down")
	}
	var refused, afterRecovery int
	for _, p := range nativeRuns {
		switch {
		case strings.HasPrefix(p.pass, "+OK"):
			if during(p) {
				t.Errorf("native session at %v logged in with Redis down", p.start.Sub(outage))
			}
			// A session in progress when Redis stopped has its listing
			// refused instead.
			unlisted := p.err != nil && strings.Contains(p.err.Error(), "[SYS/TEMP]")
			if unlisted && p.end.After(stopped) && p.start.Before(back) {
				break
			}
			if p.err != nil || !slices.Equal(p.uidls, learned.uidls) {
				t.Errorf("native session at %v listed %q (%v); want the learned UIDLs", p.start.Sub(outage), p.uidls, p.err)
			}
			if p.start.After(recovered) {
				afterRecovery++
			}
		case strings.HasPrefix(p.pass, "-ERR [SYS/TEMP]"):
			refused++
		default:
			t.Errorf("native session at %v: %q %v", p.start.Sub(outage), p.pass, p.err)
		}
	}
	if refused == 0 || afterRecovery == 0 {
		t.Errorf("native sessions: %d refused [SYS/TEMP], %d served after the recovery; want some of each", refused, afterRecovery)
	}
	// Throttling failed open: logins penalised before Redis stopped were
	// not delayed during the outage.
	var delayedBefore, delayedDuring int
	for _, l := range legacy.stdout.Lines(t, "session") {
		end, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
		ms, _ := l["duration_ms"].(float64)
		start := end.Add(-time.Duration(ms) * time.Millisecond)
		delayed := l["delay_ms"] != nil && l["delay_ms"] != float64(0)
		switch {
		case end.Before(stopped) && delayed:
			delayedBefore++
		case start.After(outage) && end.Before(back) && delayed:
			delayedDuring++
		}
	}
	if delayedBefore == 0 || delayedDuring != 0 {
		t.Errorf("legacy logins delayed: %d before the outage, %d during it; want some, then none", delayedBefore, delayedDuring)
	}
	if n := strings.Count(legacy.stdout.String(), "state store unavailable"); n != 1 {
		t.Errorf("the throttle logged the outage %d times, want once", n)
	}
	if m := scrape(t, legacy.addrs.Admin); m[`popgate_store_outages_total{part="throttle"}`] != 1 {
		t.Errorf("popgate_store_outages_total = %v, want 1", m[`popgate_store_outages_total{part="throttle"}`])
	}

	deliverAfterMove(t, filepath.Join(spools, "rachel"))
	client.SetAddr(native.addrs.Plain.String())
	got := client.Poll()
	if len(got) != 1 || !bytes.Contains(got[0].Body, []byte("after the move")) {
		t.Fatalf("poll after Redis came back fetched %d messages, want only the new one", len(got))
	}
	if m := scrape(t, native.addrs.Admin); m["popgate_store_up"] != 1 {
		t.Errorf("popgate_store_up = %v after recovery", m["popgate_store_up"])
	}
	for _, s := range []*server{legacy, native} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("exit %d", code)
		}
	}
}
