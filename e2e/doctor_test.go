package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/internal/app"
	"github.com/popgate/popgate/internal/testpeer"
)

// doctor runs "popgate doctor" against the running gate and returns its
// output.
func doctor(t *testing.T, gate *relayGate, args ...string) string {
	t.Helper()
	return doctorAt(t, gate.Admin, args...)
}

// doctorAt runs "popgate doctor" against the admin listener at admin.
func doctorAt(t *testing.T, admin string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	environ := []string{"POPGATE_ADMIN_LISTEN=" + admin, "POPGATE_DATA_DIR=" + t.TempDir()}
	if code := app.Run(context.Background(), append([]string{"popgate", "doctor"}, args...), environ, &out, &errOut); code != 0 {
		t.Fatalf("popgate doctor %v: exit %d: %s", args, code, errOut.String())
	}
	return out.String()
}

// holdFcntl has another process take an fcntl write lock on path until the
// test ends, and returns its pid.
func holdFcntl(t *testing.T, path string) int {
	t.Helper()
	python := testpeer.Require(t, "python3")
	cmd := exec.Command(python, "-c", "import fcntl, sys\nf = open(sys.argv[1], 'r+')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.read()", path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("fcntl lock holder: %q, %v", line, err)
	}
	return cmd.Process.Pid
}

// TestDoctor asks "popgate doctor" about the users a help desk hears from:
// one moved to the native backend, a hog, one whose client breaks on a
// message, and one who never logged in.
func TestDoctor(t *testing.T) {
	const pass = "pw"
	moved, hog := testpeer.SimpleMbox(3), testpeer.SimpleMbox(40)
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{
		{Name: "mona", Password: pass, Mbox: moved},
		{Name: "hank", Password: pass, Mbox: hog},
		{Name: "pete", Password: pass, Mbox: hugeMbox(20 << 20)},
	}})
	mona, hank, pete := dovecot.Login("mona"), dovecot.Login("hank"), dovecot.Login("pete")
	spools := t.TempDir()
	if err := os.WriteFile(filepath.Join(spools, mona), moved, 0o600); err != nil {
		t.Fatal(err)
	}
	routes := filepath.Join(t.TempDir(), "routes")
	if err := os.WriteFile(routes, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	gate := startRelay(t, "BACKENDS=legacy="+legacyURL(dovecot.Addr)+",native="+mboxURL(spools),
		"DEFAULT_BACKEND=legacy", "ROUTES="+routes, "ADMIN_LISTEN=127.0.0.1:0",
		"USERS_FILE="+usersFile(t, map[string]string{mona: pass}),
		"THROTTLE=on", "THROTTLE_SOFT_MSGS=10", "THROTTLE_MIN_POLL_INTERVAL=1h",
		"THROTTLE_DELAY_PER_LEVEL=10ms", "THROTTLE_MAX_DELAY=50ms")

	// mona polls the legacy server, is moved, and polls again.
	testpeer.Poplib(t, gate.Addr, mona, pass)
	gate.sessionLines(t, 1)
	if err := os.WriteFile(routes, []byte(mona+" native\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gate.reloadRoutes()
	gate.reloadRoutes()
	testpeer.Poplib(t, gate.Addr, mona, pass)
	// hank polls a large maildrop twice in a row.
	testpeer.Poplib(t, gate.Addr, hank, pass)
	testpeer.Poplib(t, gate.Addr, hank, pass)
	// pete's client times out on message 2, three polls in a row.
	for range 3 {
		curlGiveUp(t, gate.Addr, pete, pass, 2, "2")
	}
	gate.sessionLines(t, 7)
	// ivy's spool is imported before she ever logs in through popgate.
	ivySpool := filepath.Join(t.TempDir(), "ivy")
	if err := os.WriteFile(ivySpool, testpeer.SimpleMbox(4), 0o600); err != nil {
		t.Fatal(err)
	}
	var importOut bytes.Buffer
	if code := app.Run(context.Background(), []string{"popgate", "uidl", "import", "-quiet", "-scheme", "popa3d", ivySpool},
		[]string{"POPGATE_ADMIN_LISTEN=" + gate.Admin, "POPGATE_DATA_DIR=" + t.TempDir(), "POPGATE_BACKENDS=legacy=" + legacyURL(dovecot.Addr), "POPGATE_DEFAULT_BACKEND=legacy"},
		&importOut, &importOut); code != 0 {
		t.Fatalf("popgate uidl import: exit %d: %s", code, importOut.String())
	}

	// mona's client is connected while the help desk looks.
	open := testpeer.DialRaw(t, gate.Addr, mona, pass)
	out := doctor(t, gate, mona)
	open.Quit()
	for _, want := range []string{
		"maildrop   open in 1 session(s) through this server now",
		"routed to  native (mbox): routes file " + routes + ": " + mona + " native",
		"health     no health check for this backend",
		"legacy maildrop: 3 messages known, 3 with a fingerprint",
		"on native: 3 messages under their legacy UIDL, 0 under a new one",
		"3 learned from legacy sessions, 0 imported (no import covered them)",
		"poison     none",
		"spool      " + filepath.Join(spools, mona) + ": no dotlock", "no fcntl or flock lock on it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor %s lacks %q:\n%s", mona, want, out)
		}
	}
	if strings.Contains(out, "lease ") || strings.Contains(out, "REPAIR") {
		t.Errorf("doctor %s: a lease without a shared store, or a repair pending:\n%s", mona, out)
	}
	// A delivery agent died holding the dotlock, another holds the fcntl
	// lock, and a rewrite was cut short.
	monaSpool := filepath.Join(spools, mona)
	writeTestFile(t, monaSpool+".lock", "99999999\n")
	writeTestFile(t, mbox.JournalPath(monaSpool), "")
	holder := holdFcntl(t, monaSpool)
	out = doctor(t, gate, mona)
	for _, want := range []string{"dotlock of pid 99999999", "which is not running: stale",
		fmt.Sprintf("POSIX write lock held by pid %d", holder), "REPAIR PENDING"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor %s with its spool locked lacks %q:\n%s", mona, want, out)
		}
	}
	if !strings.Contains(out, " native ") || !strings.Contains(out, " legacy ") || strings.Contains(out, "CONFLICT") {
		t.Errorf("doctor %s: want its sessions on both backends and no conflict:\n%s", mona, out)
	}

	out = doctor(t, gate, hank)
	for _, want := range []string{"routed to  legacy (pop3): no rule in the routes file: the default backend", "health     up", "maildrop 40 messages", "why: the maildrop is over the soft limits"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor %s lacks %q:\n%s", hank, want, out)
		}
	}
	if strings.Contains(out, "throttle   level 0 now") {
		t.Errorf("doctor %s: the hog is at level 0:\n%s", hank, out)
	}

	out = doctor(t, gate, pete)
	for _, want := range []string{"poison     message 2", `Subject "the huge one"`, "<huge@example.org>", "3 broken transfers",
		"broke off message 2", "transfers  the last 3 sessions broke off message 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor %s lacks %q:\n%s", pete, want, out)
		}
	}

	out = doctor(t, gate, "ivy")
	for _, want := range []string{"legacy maildrop: 4 messages known, 4 with a fingerprint", "0 learned from legacy sessions, 4 imported (last import " + time.Now().UTC().Format("2006-01-02")} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor ivy lacks %q:\n%s", want, out)
		}
	}

	out = doctor(t, gate, "nobody")
	for _, want := range []string{"sessions   none since this server started", "maildrop   not open through this server now", "throttle   no login seen by this server",
		"uidl       nothing learned or imported", "poison     none", "auth       0 failed logins"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor nobody lacks %q:\n%s", want, out)
		}
	}

	// -json carries the same report for scripts.
	var r struct {
		Route    struct{ Backend, Rule string }
		Sessions []struct{ Result string }
		Poison   struct {
			Poison []struct{ Num int }
		}
	}
	if err := json.Unmarshal([]byte(doctor(t, gate, "-json", pete)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Route.Backend != "legacy" || len(r.Sessions) != 3 || r.Sessions[0].Result != "client_gone" ||
		len(r.Poison.Poison) != 1 || r.Poison.Poison[0].Num != 2 {
		t.Errorf("doctor -json %s: %+v", pete, r)
	}
}
