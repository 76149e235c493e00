package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
)

// sharedInstance starts the popgate binary on ephemeral loopback ports with
// env, and returns it with its POP3 and admin addresses.
func sharedInstance(t *testing.T, bin string, env []string) (p *popgateProc, pop, admin string) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p = runPopgate(t, cmd)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.lines {
		if m["msg"] == "popgate started" {
			pop, _ = m["listen"].(string)
			admin, _ = m["admin_listen"].(string)
		}
	}
	if pop == "" || admin == "" {
		t.Fatal("popgate did not log its addresses")
	}
	return p, pop, admin
}

// TestTwoInstancesBehindHAProxy runs two popgate processes on one
// redis-server behind a real HAProxy (mode tcp, send-proxy-v2, checks on
// /readyz), in front of a Dovecot serving qpopper-style X-UIDL headers.
// fetchmail, mpop and getmail learn through instance 1; their users move to
// the native backend or to a Dovecot Maildir whose UIDLs popgate rewrites;
// polls through instance 2 and then through HAProxy fetch every new message
// exactly once and no old one; a user polled on instance 1 is penalised on
// instance 2. Instance 1 is then killed while popbench runs through HAProxy,
// while it holds a session with a message marked deleted and a popbench
// user's lease: the only failed sessions are those it had (at most one per
// client) and logins refused on instance 2 for its leases, the leases
// expire, and each popbench mbox lost only its first messages, one for each
// session that committed (or may have, unseen).
func TestTwoInstancesBehindHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a lease to expire")
	}
	t.Parallel()
	bin := buildPopgate(t)
	rdb := testpeer.StartRedis(t)
	// Each client has one user per target: the native mbox backend, and a
	// Dovecot Maildir behind popgate whose UIDLs popgate rewrites.
	type haUser struct {
		target, name string
		new          testpeer.NewClient
	}
	var (
		haUsers []haUser
		users   []testpeer.User
	)
	for _, target := range []string{"native", "maildir"} {
		for _, c := range uidlClients {
			name := "ha-" + target + "-" + c.name
			haUsers = append(haUsers, haUser{target: target, name: name, new: c.new})
			users = append(users, testpeer.User{Name: name, Password: uidlPassword, Mbox: uidlSpool(name, uidlOldCount, true)})
		}
	}
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: users, ReuseXUIDL: true})
	maildir := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: users, Maildir: true})
	dir := t.TempDir()
	spools := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spools, 0o700); err != nil {
		t.Fatal(err)
	}
	var usersFile, moved strings.Builder
	for _, u := range haUsers {
		fmt.Fprintf(&usersFile, "%s:{PLAIN}%s\n", u.name, uidlPassword)
		fmt.Fprintf(&moved, "%s %s\n", u.name, u.target)
	}
	// popbench's users, one per client, each with more mail than a few
	// seconds of sessions deleting one message each can take.
	var loadSpools [][]byte
	for i := 1; i <= haLoadUsers; i++ {
		name := fmt.Sprintf("load%d", i)
		spool := uidlSpool(name, 300, true)
		loadSpools = append(loadSpools, spool)
		if err := os.WriteFile(filepath.Join(spools, name), spool, 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&usersFile, "%s:{PLAIN}%s\n", name, uidlPassword)
		fmt.Fprintf(&moved, "%s native\n", name)
	}
	writeTestFile(t, filepath.Join(dir, "users"), usersFile.String())
	routesFile := filepath.Join(dir, "routes")
	writeTestFile(t, routesFile, "")
	env := func(name string) []string {
		return []string{
			"PATH=" + os.Getenv("PATH"),
			"POPGATE_LISTEN=127.0.0.1:0",
			"POPGATE_ADMIN_LISTEN=127.0.0.1:0",
			"POPGATE_STORE=" + rdb.URL(0),
			"POPGATE_PROXY_PROTOCOL_FROM=127.0.0.1",
			"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + ",native=mbox://" + spools + "/%u?uidl=xuidl" +
				",maildir=pop3://" + maildir.Addr + "?timeout=20s",
			"POPGATE_DEFAULT_BACKEND=legacy",
			"POPGATE_UIDL_LEARN_FROM=legacy",
			"POPGATE_ROUTES=" + routesFile,
			"POPGATE_USERS_FILE=" + filepath.Join(dir, "users"),
			"POPGATE_DATA_DIR=" + filepath.Join(dir, name),
			"POPGATE_HEALTH_INTERVAL=100ms",
			"POPGATE_AUTH_FAIL_DELAY=0s",
			"POPGATE_THROTTLE_SOFT_MSGS=3",
			"POPGATE_THROTTLE_MIN_POLL_INTERVAL=1h",
			"POPGATE_THROTTLE_DELAY_PER_LEVEL=10ms",
			"POPGATE_THROTTLE_MAX_DELAY=50ms",
		}
	}
	one, pop1, admin1 := sharedInstance(t, bin, env("one"))
	two, pop2, admin2 := sharedInstance(t, bin, env("two"))
	ha := testpeer.StartHAProxy(t, []testpeer.Backend{{Addr: pop1, CheckAddr: admin1}, {Addr: pop2, CheckAddr: admin2}})

	// Learn through instance 1.
	pollers := map[string]*testpeer.Poller{}
	for _, u := range haUsers {
		p := u.new(t, pop1, u.name, uidlPassword)
		if got := p.Poll(); len(got) != uidlOldCount {
			t.Fatalf("%s on legacy fetched %d messages, want %d", u.name, len(got), uidlOldCount)
		}
		pollers[u.name] = p
	}

	// The old mail moves with each user, and everyone is routed to the
	// new backend on both instances.
	for _, u := range haUsers {
		spool := dovecot.Mbox(t, u.name)
		switch u.target {
		case "native":
			if err := os.WriteFile(filepath.Join(spools, u.name), spool, 0o600); err != nil {
				t.Fatal(err)
			}
		case "maildir":
			maildir.SetMbox(t, u.name, spool)
		}
	}
	writeTestFile(t, routesFile, moved.String())
	for _, p := range []*popgateProc{one, two} {
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	pop3test.Eventually(t, "both instances to reload the routes", func() bool {
		return one.count("routes reloaded", "", "") > 0 && two.count("routes reloaded", "", "") > 0
	})

	// New mail, fetched through instance 2, then through HAProxy (round
	// robin: successive polls land on different instances).
	for round, addr := range []string{pop2, ha.Addr, ha.Addr} {
		for _, u := range haUsers {
			msg := uidlNewMessage(u.name, round+1)
			if u.target == "native" {
				uidlAppendMbox(t, filepath.Join(spools, u.name), msg)
			} else {
				maildir.Deliver(t, u.name, msg)
			}
			p := pollers[u.name]
			p.SetAddr(addr)
			got := p.Poll()
			if len(got) != 1 || !bytes.Contains(got[0].Body, []byte(fmt.Sprintf("new message %d", round+1))) {
				t.Errorf("round %d: %s fetched %d messages through %s, want only new message %d", round, u.name, len(got), addr, round+1)
			}
		}
	}
	for _, name := range []string{"ha-native-mpop", "ha-maildir-mpop"} {
		if again := pollers[name].Poll(); len(again) != 0 {
			t.Errorf("%s: a poll with no new mail fetched %d messages", name, len(again))
		}
	}

	// Throttle state is shared: the first session on instance 2 of a user
	// polled moments before on instance 1 is penalised.
	penalised := false
	two.mu.Lock()
	for _, m := range two.lines {
		if m["msg"] == "session" && m["user"] == "ha-native-fetchmail" {
			pen, _ := m["penalty"].(float64)
			penalised = pen >= 1
			break
		}
	}
	two.mu.Unlock()
	if !penalised {
		t.Error("the first session on instance 2 of a user polled on instance 1 was not penalised")
	}

	// Instance 1 dies while popbench runs through HAProxy, with the
	// victim's session open on it and a message marked deleted.
	victim := "ha-native-getmail"
	rc := testpeer.Dial(t, pop1)
	rc.Expect("USER "+victim, "+OK")
	rc.Expect("PASS "+uidlPassword, "+OK")
	stat := rc.OK("STAT")
	rc.Expect("DELE 1", "+OK")
	// Instance 2's doctor names instance 1's session as the holder.
	out := doctorAt(t, admin2, victim)
	host, _ := os.Hostname()
	if want := fmt.Sprintf("lease      held by %s pid %d session ", host, one.cmd.Process.Pid); !strings.Contains(out, want) {
		t.Errorf("doctor on instance 2 lacks %q:\n%s", want, out)
	}
	before := one.count("session", "backend", "native")
	bench := startPopbench(t, ha.Addr, haLoadUsers, "-duration", "6s", "-script", "uidl,retr:1,dele:1")
	// The kill comes once instance 1 has served popbench sessions and
	// holds the lease of a popbench user.
	rc2 := goredis.NewClient(&goredis.Options{Addr: rdb.Addr})
	defer rc2.Close()
	holder := fmt.Sprintf("pid %d ", one.cmd.Process.Pid)
	pop3test.Eventually(t, "instance 1 to hold a popbench user's lease", func() bool {
		if one.count("session", "backend", "native") < before+3 {
			return false
		}
		keys, _ := rc2.Keys(context.Background(), "popgate:lock:*/load*").Result()
		for _, k := range keys {
			if v, _ := rc2.Get(context.Background(), k).Result(); strings.Contains(v, holder) {
				return true
			}
		}
		return false
	})
	if err := one.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	report := bench.wait(t)
	t.Logf("popbench through HAProxy: %d ok, %d failed %v, %d cut short", report.OK, report.Failed, report.Errors, report.CutShort)
	// The only refusals are of users whose lease the dead instance held,
	// and besides them at most one session per client (the one it had
	// on instance 1) failed.
	refused, gone := 0, 0
	for _, m := range two.notOK() {
		user, _ := m["user"].(string)
		errText, _ := m["error"].(string)
		switch {
		case !strings.HasPrefix(user, "load"):
		case strings.Contains(errText, " in use by ") && strings.Contains(errText, holder):
			refused++
		case m["result"] == "client_gone":
			// popbench closed it when its time was up.
			gone++
		default:
			t.Errorf("instance 2 failed a popbench session other than for a lease of instance 1: %v", m)
		}
	}
	// A session popbench cut short when its time was up may have been
	// refused on instance 2 without popbench reading the refusal, or
	// closed by popbench in the middle.
	if got := report.Errors["auth_refused"]; refused < got || refused+gone > got+report.CutShort {
		t.Errorf("popbench saw %d refused logins (and cut %d short), instance 2 logged %d refusals naming instance 1 and %d sessions the client left",
			got, report.CutShort, refused, gone)
	}
	if dropped := report.Failed - report.Errors["auth_refused"]; dropped > haLoadUsers {
		t.Errorf("%d popbench sessions failed other than by a refusal, more than the %d clients could have had on instance 1", dropped, haLoadUsers)
	}
	if report.OK == 0 {
		t.Error("no popbench session succeeded")
	}

	// The victim's maildrop lease expires, and nothing was deleted.
	c := loginOnceFree(t, ha.Addr, victim)
	if got := c.OK("STAT"); got != stat {
		t.Errorf("after the kill: STAT %q, want %q (nothing committed)", got, stat)
	}
	c.Quit()
	// The kill may have cut a popbench session's UPDATE short: the next
	// login on that maildrop repairs it from its journal.
	for i := range loadSpools {
		loginOnceFree(t, ha.Addr, fmt.Sprintf("load%d", i+1)).Quit()
	}
	// Nothing was lost or committed twice: each popbench user's mbox holds
	// its original messages less the first few, and as many are gone as
	// sessions committed, plus at most those whose end popbench did not see.
	deleted := 0
	for i, spool := range loadSpools {
		data, err := os.ReadFile(filepath.Join(spools, fmt.Sprintf("load%d", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		orig, now := testpeer.SplitMbox(spool), testpeer.SplitMbox(data)
		k := len(orig) - len(now)
		if k < 0 || !slices.EqualFunc(now, orig[k:], bytes.Equal) {
			_, journal := os.Stat(filepath.Join(spools, fmt.Sprintf(".popgate-load%d.journal", i+1)))
			t.Errorf("load%d: the mbox is not its original messages less the first %d (journal left: %v)", i+1, k, journal == nil)
		}
		deleted += k
	}
	if deleted < report.OK || deleted > report.OK+report.Failed+report.CutShort {
		t.Errorf("%d messages deleted by %d committed sessions (%d failed, %d cut short)", deleted, report.OK, report.Failed, report.CutShort)
	}
	two.stop(t)
}

// loginOnceFree logs user in through addr once the lease a killed instance
// held on the maildrop has expired.
func loginOnceFree(t *testing.T, addr, user string) *testpeer.Raw {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		c := testpeer.Dial(t, addr)
		c.Expect("USER "+user, "+OK")
		answer := c.Expect("PASS "+uidlPassword, "")
		if strings.HasPrefix(answer, "+OK") {
			return c
		}
		c.Close()
		if !strings.HasPrefix(answer, "-ERR [IN-USE]") || time.Now().After(deadline) {
			t.Fatalf("%s: login after the holder died: %q", user, answer)
		}
		time.Sleep(time.Second)
	}
}

// haLoadUsers is the number of popbench clients, each with its own user.
const haLoadUsers = 6

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}
