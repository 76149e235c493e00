package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// startFake serves a fixed three-message maildrop to any user with
// password "p"; the server counts the commands it sees.
func startFake(t *testing.T) *pop3test.Server {
	t.Helper()
	msg := func(body string) pop3test.Reply { return pop3test.Lines("+OK", body, ".") }
	return pop3test.Start(t, (&pop3test.Script{
		Greeting: pop3test.Lines("+OK fake ready"),
		Replies: map[string]pop3test.Reply{
			"USER":   pop3test.Lines("+OK"),
			"PASS p": pop3test.Lines("+OK logged in"),
			"PASS":   pop3test.Lines("-ERR [AUTH] " + pop3.ErrAuthFailed.Text),
			"STAT":   pop3test.Lines("+OK 3 100"),
			"UIDL":   pop3test.Lines("+OK", "1 uid0", "2 uid1", "3 uid2", "."),
			"RETR 1": msg("a"),
			"RETR 2": msg(strings.Repeat("b", 100) + "\r\n..dot"),
			"RETR 3": msg("c"),
			"RETR":   pop3test.Lines("-ERR " + pop3.ErrNoSuchMessage.Text),
			"QUIT":   {Text: "+OK bye\r\n", Close: true},
		},
		Unknown: pop3test.Lines("+OK"),
	}).Serve)
}

func TestRunCountsSessionsAndBytes(t *testing.T) {
	s := startFake(t)
	script, err := ParseScript("stat,uidl,retr:all")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{
		Addr: s.Addr, Users: []Credential{{"u", "p"}}, Clients: 3, Sessions: 12, Script: script, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 12 || rep.Failed != 0 || rep.Sessions != 12 {
		t.Fatalf("report = %+v, want 12 ok sessions", rep)
	}
	// Unstuffed bodies: 3 + 104 + 6 + 3 bytes per session.
	if want := int64(12 * (3 + 102 + 6 + 3)); rep.Bytes != want || rep.Messages != 36 {
		t.Errorf("retrieved %d messages, %d bytes; want 36, %d", rep.Messages, rep.Bytes, want)
	}
	if s.Count("QUIT") != 12 || s.Count("RETR") != 36 {
		t.Errorf("server saw %d QUIT and %d RETR", s.Count("QUIT"), s.Count("RETR"))
	}
	if rep.Session.P50 <= 0 || rep.Session.P99 < rep.Session.P50 || rep.Login.P50 > rep.Session.P50 {
		t.Errorf("implausible latencies %+v / %+v", rep.Session, rep.Login)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	if !strings.Contains(out.String(), "12 ok, 0 failed, 0 cut short") {
		t.Errorf("text report:\n%s", out.String())
	}
}

func TestRunReportsRefusedLogins(t *testing.T) {
	s := startFake(t)
	rep, err := Run(context.Background(), Options{Addr: s.Addr, Users: []Credential{{"u", "wrong"}}, Sessions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 0 || rep.Errors["auth_refused"] != 3 {
		t.Fatalf("report = %+v, want 3 auth_refused", rep)
	}
}

func TestRunStopsOnDuration(t *testing.T) {
	s := startFake(t)
	script, _ := ParseScript("idle")
	rep, err := Run(context.Background(), Options{Addr: s.Addr, Users: []Credential{{"u", "p"}}, Clients: 4, Duration: 300 * time.Millisecond, Script: script})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK < 4 || rep.Failed != 0 {
		t.Fatalf("report = %+v, want the 4 idle sessions held to the end", rep)
	}
}

func TestRunDialFailure(t *testing.T) {
	addr := pop3test.ClosedAddr(t)
	rep, err := Run(context.Background(), Options{Addr: addr, Users: []Credential{{"u", "p"}}, Sessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors["dial: connection refused"] != 2 || rep.Failed != 2 {
		t.Fatalf("errors = %v, want dial: connection refused=2", rep.Errors)
	}
	if !strings.Contains(rep.ErrorSamples["dial: connection refused"], addr) {
		t.Errorf("error samples = %q, want the dial error naming %s", rep.ErrorSamples, addr)
	}
}

func TestParseScript(t *testing.T) {
	steps, err := ParseScript("stat, retr:2 ,top:all:5,dele:all")
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{{Op: "STAT"}, {Op: "RETR", Count: 2}, {Op: "TOP", Lines: 5}, {Op: "DELE"}}
	if len(steps) != len(want) {
		t.Fatalf("ParseScript = %+v", steps)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, steps[i], want[i])
		}
	}
	for _, bad := range []string{"retr:0", "fetch", "stat:1", "top:1:x", "dele:1:2"} {
		if _, err := ParseScript(bad); err == nil {
			t.Errorf("ParseScript(%q) succeeded", bad)
		}
	}
}

func TestWriteMbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.mbox")
	if err := WriteMbox(path, "u", 25, Sizes{100, 5000}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seps, prevBlank := 0, true
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if prevBlank && strings.HasPrefix(sc.Text(), "From ") {
			seps++
		}
		prevBlank = sc.Text() == ""
	}
	if seps != 25 {
		t.Errorf("mbox has %d messages, want 25", seps)
	}
	dir := filepath.Join(t.TempDir(), "Maildir")
	if err := WriteMaildir(dir, "u", 7, Sizes{10, 10}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "new")); len(ents) != 7 {
		t.Errorf("maildir has %d messages, want 7", len(ents))
	}
}

func TestRunHoldingFiresOnceAllClientsIdle(t *testing.T) {
	s := startFake(t)
	script, _ := ParseScript("idle")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls, passes := 0, 0
	hold := func() {
		calls++
		passes = s.Count("PASS")
		cancel() // the measurement point: end the run here
	}
	rep, err := Run(ctx, Options{Addr: s.Addr, Users: []Credential{{"u", "p"}}, Clients: 5, Duration: time.Minute, Script: script, Holding: hold})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("Holding called %d times, want once", calls)
	}
	if passes != 5 {
		t.Errorf("server had seen %d logins when Holding fired, want all 5", passes)
	}
	if rep.OK != 5 || rep.Failed != 0 {
		t.Errorf("report = %+v, want 5 held sessions", rep)
	}
}

func TestRunCountsCutSessionsApart(t *testing.T) {
	// A server that accepts and never greets: every session is still
	// waiting when the run ends.
	s := pop3test.Start(t, (&pop3test.Script{Greeting: pop3test.Reply{Hang: true}}).Serve)
	rep, err := Run(context.Background(), Options{Addr: s.Addr, Users: []Credential{{"u", "p"}}, Clients: 3, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CutShort != 3 || rep.Failed != 0 || len(rep.Errors) != 0 {
		t.Fatalf("report = %+v, want 3 sessions cut short and no failure", rep)
	}
}

// lateContext is past its deadline but not yet cancelled, as a context is
// until its timer runs.
type lateContext struct{ context.Context }

func (lateContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

func TestOverChecksTheDeadlineItself(t *testing.T) {
	ctx := lateContext{context.Background()}
	if ctx.Err() != nil || !over(ctx) {
		t.Fatal("over = false for a context past its deadline")
	}
	if over(context.Background()) {
		t.Fatal("over = true for a context without deadline")
	}
	live, cancelLive := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLive()
	if over(live) {
		t.Fatal("over = true an hour before the deadline")
	}
}

func TestQuickAckSessionsRetrieveTheSameBytes(t *testing.T) {
	s := startFake(t)
	script, err := ParseScript("retr:all")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{
		Addr: s.Addr, Users: []Credential{{"u", "p"}}, Sessions: 4, Script: script, QuickAck: true, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 4 || rep.Failed != 0 {
		t.Fatalf("report = %+v, want 4 ok sessions", rep)
	}
	if want := int64(4 * (3 + 102 + 6 + 3)); rep.Bytes != want {
		t.Errorf("retrieved %d bytes, want %d", rep.Bytes, want)
	}
}
