package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
)

// The adversarial tests attack popgate as a password guesser would, on
// loopback only and with a bounded number of connections. The attacking
// and the legitimate client addresses are set with PROXY headers, which
// popgate accepts from 127.0.0.1 here.

const (
	attackerAddr = "203.0.113.9"
	ownerAddr    = "198.51.100.20"
	// guesses is the number of parallel wrong passwords.
	guesses = 1000
)

// popLine is one POP3 client connection with a PROXY v1 header naming
// client as its source.
type popLine struct {
	c net.Conn
	r *bufio.Reader
}

func dialAs(addr, client string) (*popLine, error) {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := fmt.Fprintf(c, "PROXY TCP4 %s 127.0.0.1 40000 110\r\n", client); err != nil {
		c.Close()
		return nil, err
	}
	p := &popLine{c: c, r: bufio.NewReader(c)}
	if _, err := p.expectOK(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return p, nil
}

// cmd sends one command line and returns the reply line.
func (p *popLine) cmd(line string) (string, error) {
	if _, err := fmt.Fprintf(p.c, "%s\r\n", line); err != nil {
		return "", err
	}
	s, err := p.r.ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}

func (p *popLine) expectOK() (string, error) {
	s, err := p.r.ReadString('\n')
	s = strings.TrimRight(s, "\r\n")
	if err == nil && !strings.HasPrefix(s, "+OK") {
		err = fmt.Errorf("reply %q", s)
	}
	return s, err
}

// login logs in as user from client and quits, returning how long the
// login took.
func loginAs(addr, client, user, pass string) (time.Duration, error) {
	start := time.Now()
	p, err := dialAs(addr, client)
	if err != nil {
		return 0, err
	}
	defer p.c.Close()
	if r, err := p.cmd("USER " + user); err != nil || !strings.HasPrefix(r, "+OK") {
		return 0, fmt.Errorf("USER: %q %v", r, err)
	}
	r, err := p.cmd("PASS " + pass)
	if err != nil || !strings.HasPrefix(r, "+OK") {
		return 0, fmt.Errorf("PASS: %q %v", r, err)
	}
	took := time.Since(start)
	_, _ = p.cmd("QUIT")
	return took, nil
}

// bruteForce opens guesses connections from attackerAddr, sends USER on
// each, then all wrong PASS commands at once. Meanwhile the owner logs in
// from ownerAddr again and again; their login times are returned. It
// checks what popgate logged: at most limit passwords verified, every other
// guess refused as auth_failures, every owner login ok.
func bruteForce(t *testing.T, gate *relayGate, user, pass string, limit int) []time.Duration {
	t.Helper()
	conns := make([]*popLine, 0, guesses)
	defer func() {
		for _, p := range conns {
			p.c.Close()
		}
	}()
	for i := range guesses {
		p, err := dialAs(gate.Addr, attackerAddr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, p)
		if r, err := p.cmd("USER " + user); err != nil || !strings.HasPrefix(r, "+OK") {
			t.Fatalf("connection %d: USER: %q %v", i, r, err)
		}
	}

	var wg sync.WaitGroup
	replies := make([]string, guesses)
	start := make(chan struct{})
	for i, p := range conns {
		wg.Go(func() {
			<-start
			r, err := p.cmd(fmt.Sprintf("PASS guess%d", i))
			if err != nil {
				r = "error: " + err.Error()
			}
			replies[i] = r
			_, _ = p.cmd("QUIT")
		})
	}
	var ownerTimes []time.Duration
	var ownerErrs []error
	stop := make(chan struct{})
	var ownerWG sync.WaitGroup
	ownerWG.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			d, err := loginAs(gate.Addr, ownerAddr, user, pass)
			if err != nil {
				ownerErrs = append(ownerErrs, err)
				return
			}
			ownerTimes = append(ownerTimes, d)
		}
	})
	close(start)
	wg.Wait()
	close(stop)
	ownerWG.Wait()
	if len(ownerErrs) > 0 || len(ownerTimes) == 0 {
		t.Fatalf("owner during the attack: %d logins, errors %v", len(ownerTimes), ownerErrs)
	}

	refused := 0
	for i, r := range replies {
		switch {
		case strings.HasPrefix(r, "-ERR [SYS/TEMP]"):
			refused++
		case strings.HasPrefix(r, "-ERR [AUTH]"):
		default:
			t.Errorf("guess %d answered %q", i, r)
		}
	}

	lines := gate.sessionLines(t, guesses+len(ownerTimes))
	verified, throttled := 0, 0
	for _, l := range lines {
		if l["client"] == nil || !strings.HasPrefix(fmt.Sprint(l["client"]), attackerAddr) {
			if l["result"] != "ok" {
				t.Errorf("owner's session: %v", l)
			}
			continue
		}
		switch l["result"] {
		case "auth_failed":
			verified++
		case "throttled":
			if l["throttle_reason"] != "auth_failures" {
				t.Errorf("refused guess without throttle_reason auth_failures: %v", l)
			}
			throttled++
		default:
			t.Errorf("guess's session: %v", l)
		}
	}
	t.Logf("%d parallel guesses: %d verified, %d refused (%d [SYS/TEMP] replies); owner: %d logins",
		guesses, verified, throttled, refused, len(ownerTimes))
	if verified > limit || verified+throttled != guesses || refused != throttled {
		t.Errorf("%d guesses verified and %d refused, want at most %d verified and the rest refused", verified, throttled, limit)
	}
	return ownerTimes
}

// p99 is the 99th percentile of ds.
func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*99)/100]
}

// bruteForceVars are the settings both brute-force tests serve with. The
// pre-login cap per address is off: it would refuse most of the guesses
// before USER, and these tests measure the failed-login limits behind it.
var bruteForceVars = []string{"THROTTLE=on", "PROXY_PROTOCOL_FROM=127.0.0.1", "THROTTLE_AUTH_FAIL_LIMIT=10",
	"MAX_PRELOGIN_PER_ADDRESS=0"}

func TestParallelBruteForceNative(t *testing.T) {
	spools := t.TempDir()
	gate := startRelay(t, append([]string{"BACKENDS=native=" + mboxURL(spools), "DEFAULT_BACKEND=native",
		"USERS_FILE=" + usersFile(t, map[string]string{"alice": "right"})}, bruteForceVars...)...)
	owner := bruteForce(t, gate, "alice", "right", 10)
	t.Logf("native: owner's login p99 %s over %d logins during the attack", p99(owner), len(owner))
}

// TestParallelBruteForceRelay also passes the client address on to
// Dovecot (PROXY v2), so that its own per-address penalty falls on the
// attacker only, as the README's Dovecot guide sets it up.
func TestParallelBruteForceRelay(t *testing.T) {
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{HAProxy: true,
		Users: []testpeer.User{{Name: "alice", Password: "right", Mbox: testpeer.SimpleMbox(1)}}})
	gate := startRelay(t, append([]string{"BACKENDS=legacy=" + legacyURL(dovecot.HAProxyAddr) + "&proxy_protocol=v2", "DEFAULT_BACKEND=legacy"}, bruteForceVars...)...)
	owner := bruteForce(t, gate, "alice", "right", 10)
	t.Logf("relay: owner's login p99 %s over %d logins during the attack", p99(owner), len(owner))
}

// TestEnforcedLoginDelayNeedsThePassword: with ENFORCE_LOGIN_DELAY a wrong
// password for a hog that polls too often gets the same [AUTH] answer as
// for anyone, so [LOGIN-DELAY] confirms nothing to a guesser; the owner,
// told LOGIN-DELAY 0 at the first poll, is not refused at the second, and
// is refused at the third, within the LOGIN-DELAY then announced.
func TestEnforcedLoginDelayNeedsThePassword(t *testing.T) {
	spools := t.TempDir()
	gate := startRelay(t, "BACKENDS=native="+mboxURL(spools), "DEFAULT_BACKEND=native",
		"USERS_FILE="+usersFile(t, map[string]string{"hog": "right"}), "PROXY_PROTOCOL_FROM=127.0.0.1",
		"THROTTLE=on", "THROTTLE_ENFORCE_LOGIN_DELAY=true", "THROTTLE_SOFT_MSGS=1", "THROTTLE_SOFT_BYTES=0",
		"THROTTLE_DELAY_PER_LEVEL=1ms")
	if err := os.WriteFile(filepath.Join(spools, "hog"), testpeer.SimpleMbox(5), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"+OK", "+OK", "-ERR [LOGIN-DELAY]"} {
		// A guess from elsewhere before each of the owner's polls.
		p, err := dialAs(gate.Addr, attackerAddr)
		if err != nil {
			t.Fatal(err)
		}
		p.cmd("USER hog")
		if r, _ := p.cmd("PASS wrong"); !strings.HasPrefix(r, "-ERR [AUTH]") {
			t.Errorf("wrong password before poll %d: %q, want -ERR [AUTH]", i+1, r)
		}
		p.c.Close()

		p, err = dialAs(gate.Addr, ownerAddr)
		if err != nil {
			t.Fatal(err)
		}
		p.cmd("USER hog")
		r, _ := p.cmd("PASS right")
		if !strings.HasPrefix(r, want) {
			t.Errorf("owner's poll %d: %q, want %s", i+1, r, want)
		}
		if strings.HasPrefix(r, "+OK") {
			_, _ = p.cmd("QUIT")
		}
		p.c.Close()
	}
	for _, l := range gate.sessionLines(t, 6) {
		if strings.HasPrefix(fmt.Sprint(l["client"]), attackerAddr) && l["result"] != "auth_failed" {
			t.Errorf("guess's session line: %v", l)
		}
	}
}

// TestPreLoginFlood: one address opens many connections and sends nothing
// after its PROXY header. Past the per-address cap each is refused at once
// with [SYS/TEMP]; the ones held are closed at the login timeout; the owner
// logs in from another address meanwhile; all of it is on the session
// lines and in the metrics.
func TestPreLoginFlood(t *testing.T) {
	const (
		flood   = 300
		perAddr = 20
	)
	spools := t.TempDir()
	gate := startRelay(t, "BACKENDS=native="+mboxURL(spools), "DEFAULT_BACKEND=native",
		"USERS_FILE="+usersFile(t, map[string]string{"alice": "right"}), "PROXY_PROTOCOL_FROM=127.0.0.1",
		"ADMIN_LISTEN=127.0.0.1:0", fmt.Sprintf("MAX_PRELOGIN_PER_ADDRESS=%d", perAddr), "LOGIN_TIMEOUT=3s")
	start := time.Now()
	var held, refused []*popLine
	defer func() {
		for _, p := range append(held, refused...) {
			p.c.Close()
		}
	}()
	conns := make([]*popLine, flood)
	for i := range conns {
		p, err := dialAs(gate.Addr, attackerAddr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns[i] = p
	}
	// A held connection gets no second line before the login timeout; a
	// refused one gets it at once.
	replies := make([]string, flood)
	var wg sync.WaitGroup
	for i, p := range conns {
		wg.Go(func() {
			_ = p.c.SetReadDeadline(time.Now().Add(time.Second))
			r, err := p.r.ReadString('\n')
			if err != nil {
				r = "no reply"
			}
			replies[i] = r
		})
	}
	wg.Wait()
	for i, r := range replies {
		switch {
		case r == "no reply":
			held = append(held, conns[i])
		case strings.HasPrefix(r, "-ERR [SYS/TEMP] too many connections from your address"):
			refused = append(refused, conns[i])
		default:
			t.Errorf("connection %d: %q", i, r)
		}
	}
	if len(held) != perAddr || len(refused) != flood-perAddr {
		t.Errorf("%d held and %d refused, want %d and %d", len(held), len(refused), perAddr, flood-perAddr)
	}
	if _, err := loginAs(gate.Addr, ownerAddr, "alice", "right"); err != nil {
		t.Errorf("owner during the flood: %v", err)
	}
	for i, p := range held {
		_ = p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if r, _ := p.r.ReadString('\n'); !strings.HasPrefix(r, "-ERR [SYS/TEMP] login timeout") {
			t.Errorf("held connection %d: %q at the login timeout", i, r)
		}
	}
	t.Logf("%d connections from one address: %d held until the login timeout (%s), %d refused at once",
		len(held)+len(refused), len(held), time.Since(start).Round(time.Millisecond), len(refused))
	lines := gate.sessionLines(t, len(held)+len(refused)+1)
	counts := map[string]int{}
	for _, l := range lines {
		counts[fmt.Sprint(l["result"], "/", l["limit"])]++
	}
	if counts["refused/prelogin_address"] != len(refused) || counts["timeout/<nil>"] != len(held) || counts["ok/<nil>"] != 1 {
		t.Errorf("session lines by result/limit: %v", counts)
	}
	g := &opsGate{relayGate: gate, admin: "http://" + gate.Admin}
	if got := g.metric(t, `popgate_connection_limit_refusals_total{limit="prelogin_address"}`); int(got) != len(refused) {
		t.Errorf("refusals metric %v, want %d", got, len(refused))
	}
	if got := g.metric(t, "popgate_prelogin_connections"); got != 0 {
		t.Errorf("prelogin_connections %v after the flood, want 0", got)
	}
}
