package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
)

// hugeMbox is two small messages around one of about size bytes, big
// enough that no client takes it within a short timeout at a low rate.
func hugeMbox(size int) []byte {
	var b bytes.Buffer
	b.Write(testpeer.SimpleMbox(1))
	body := strings.Repeat(strings.Repeat("y", 76)+"\n", size/77)
	b.Write(testpeer.MboxMessage([]byte("From: Sender <sender@example.org>\nTo: user@example.net\n" +
		"Subject: the huge one\nMessage-ID: <huge@example.org>\n\n" + body)))
	return b.Bytes()
}

// curlGiveUp runs curl to retrieve message n as a client with a short
// timeout does: it reads slowly and gives up after maxTime.
func curlGiveUp(t *testing.T, addr, user, pass string, n int, maxTime string) {
	t.Helper()
	bin := testpeer.Require(t, "curl")
	dir := t.TempDir()
	conf := filepath.Join(dir, "config")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("user = %q\n", user+":"+pass)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-q", "--config", conf, "--silent", "--limit-rate", "100k",
		"--max-time", maxTime, "-o", filepath.Join(dir, "msg"), fmt.Sprintf("pop3://%s/%d", addr, n))
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 28 {
		t.Fatalf("curl: %v, want the timeout exit status 28", err)
	}
}

// warmUp runs one session of user that only logs in, so that the clients
// that follow do not spend their time limit on the backend's first opening
// of a large maildrop (the native backend indexes it).
func warmUp(t *testing.T, gate *relayGate, user, pass string) {
	t.Helper()
	testpeer.DialRaw(t, gate.Addr, user, pass).Quit()
}

// A client that gives up in the middle of a message is not counted as
// having retrieved it: the session line names the message it broke on.
func TestSessionLineBrokenTransfer(t *testing.T) {
	const user, pass = "nina", "pw"
	mbox := hugeMbox(20 << 20)
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{{Name: user, Password: pass, Mbox: mbox}}})
	spools := t.TempDir()
	if err := os.WriteFile(filepath.Join(spools, user), mbox, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, backend string }{
		{"dovecot", "dovecot=" + legacyURL(dovecot.Addr)},
		{"native", "native=" + mboxURL(spools)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := startRelay(t, "BACKENDS="+tc.backend, "DEFAULT_BACKEND="+tc.name,
				"USERS_FILE="+usersFile(t, map[string]string{user: pass}))
			warmUp(t, gate, dovecot.Login(user), pass)
			curlGiveUp(t, gate.Addr, dovecot.Login(user), pass, 2, "2")
			l := gate.sessionLines(t, 2)[1]
			if l["retr_msgs"] != 0.0 || l["retr_bytes"] != 0.0 || l["broken_msg"] != 2.0 || l["auth"] != "ok" {
				t.Errorf("retr_msgs %v retr_bytes %v broken_msg %v auth %v; want 0, 0, 2, ok; line %v",
					l["retr_msgs"], l["retr_bytes"], l["broken_msg"], l["auth"], l)
			}
			if b, _ := l["broken_bytes"].(float64); b <= 0 || b >= float64(len(mbox)) {
				t.Errorf("broken_bytes = %v", l["broken_bytes"])
			}
			if l["result"] != "client_gone" {
				t.Errorf("result %v, want client_gone", l["result"])
			}
		})
	}
}

// A login refused with [IN-USE] had its password accepted; the session
// line says so, and why the session ended.
func TestSessionLineInUse(t *testing.T) {
	spools := t.TempDir()
	if err := os.WriteFile(filepath.Join(spools, "olga"), testpeer.SimpleMbox(2), 0o600); err != nil {
		t.Fatal(err)
	}
	gate := startRelay(t, "BACKENDS=native="+mboxURL(spools), "DEFAULT_BACKEND=native",
		"USERS_FILE="+usersFile(t, map[string]string{"olga": "pw"}))
	first := testpeer.DialRaw(t, gate.Addr, "olga", "pw")
	second := testpeer.Dial(t, gate.Addr)
	second.OK("USER olga")
	second.Expect("PASS pw", "-ERR [IN-USE]")
	second.Quit()
	first.Quit()
	lines := gate.sessionLines(t, 2)
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprintf("%v/%v", l["auth"], l["result"]))
	}
	// Each line is written after its client has gone, in either order.
	slices.Sort(got)
	if !slices.Equal(got, []string{"ok/in_use", "ok/ok"}) {
		t.Errorf("auth/result of the two sessions: %v, want ok/in_use and ok/ok", got)
	}
}

// waits returns a session line's wait_* fields in milliseconds and checks
// that delay_ms is their sum.
func waits(t *testing.T, l map[string]any) (queue, login, authFail, shaping float64) {
	t.Helper()
	num := func(k string) float64 {
		v, ok := l[k].(float64)
		if !ok {
			t.Fatalf("session line has no %s: %v", k, l)
		}
		return v
	}
	queue, login, authFail, shaping = num("wait_queue_ms"), num("wait_login_ms"), num("wait_auth_fail_ms"), num("wait_shaping_ms")
	if sum := queue + login + authFail + shaping; num("delay_ms") != sum {
		t.Errorf("delay_ms %v is not the sum %v of its parts", l["delay_ms"], sum)
	}
	return
}

// Every wait popgate imposes is on the session line in a field of its
// own, and together they account for what the client waited.
func TestSessionLineWaits(t *testing.T) {
	spools := t.TempDir()
	if err := os.WriteFile(filepath.Join(spools, "pat"), testpeer.SimpleMbox(60), 0o600); err != nil {
		t.Fatal(err)
	}
	gate := startRelay(t, "BACKENDS=native="+mboxURL(spools), "DEFAULT_BACKEND=native",
		"USERS_FILE="+usersFile(t, map[string]string{"pat": "pw"}),
		"AUTH_FAIL_DELAY=150ms", "THROTTLE=on", "THROTTLE_SOFT_MSGS=10", "THROTTLE_MIN_POLL_INTERVAL=1h",
		"THROTTLE_MAX_LEVEL=2", "THROTTLE_DELAY_PER_LEVEL=100ms", "THROTTLE_MAX_DELAY=300ms",
		"THROTTLE_BANDWIDTH=16k", "THROTTLE_AUTH_FAIL_DELAY=200ms")

	// login runs one session and returns how long PASS took to answer.
	login := func(pass, want string, retrAll bool) time.Duration {
		rc := testpeer.Dial(t, gate.Addr)
		rc.OK("USER pat")
		start := time.Now()
		rc.Expect("PASS "+pass, want)
		took := time.Since(start)
		if retrAll {
			for i := 1; i <= 60; i++ {
				rc.Block(fmt.Sprintf("RETR %d", i))
			}
		}
		rc.Quit()
		return took
	}
	const slack = time.Second // the backend's own work, scheduling

	// A refused password: the proxy's pause.
	took := login("wrong", "-ERR [AUTH]", false)
	refused := gate.sessionLines(t, 1)[0]
	if refused["level"] != "warn" {
		t.Errorf("a refused login's session line is at %v, want warn", refused["level"])
	}
	_, _, authFail, _ := waits(t, refused)
	if authFail < 150 || time.Duration(authFail)*time.Millisecond > took {
		t.Errorf("wait_auth_fail_ms %v after a refused login that took %v", authFail, took)
	}

	// The next login from the same client is held for that failure.
	took = login("pw", "+OK", false)
	q, lg, authFail, _ := waits(t, gate.sessionLines(t, 2)[1])
	held := time.Duration(q+lg+authFail) * time.Millisecond
	if authFail < 200 || held > took || took-held > slack {
		t.Errorf("queue %v login %v auth_fail %v ms; PASS answered after %v", q, lg, authFail, took)
	}

	// Polled again at once with a large maildrop: login delay and shaping.
	start := time.Now()
	took = login("pw", "+OK", true)
	session := time.Since(start)
	q, lg, authFail, shaping := waits(t, gate.sessionLines(t, 3)[2])
	held = time.Duration(q+lg+authFail) * time.Millisecond
	if lg < 100 || held > took || took-held > slack {
		t.Errorf("queue %v login %v auth_fail %v ms; PASS answered after %v", q, lg, authFail, took)
	}
	if shaping <= 0 || time.Duration(q+lg+authFail+shaping)*time.Millisecond > session {
		t.Errorf("wait_shaping_ms %v, all waits %v ms, in a session of %v", shaping, q+lg+authFail+shaping, session)
	}
}

// A client that times out on the same huge message at every poll: after
// three broken transfers popgate names the message once, counts it, and
// with POPGATE_POISON_ACTION holds it so the client gets the rest.
func TestPoisonMessage(t *testing.T) {
	const user, pass = "pete", "pw"
	mbox := hugeMbox(20 << 20)
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{{Name: user, Password: pass, Mbox: mbox}}})
	login := dovecot.Login(user)
	for _, backend := range []string{"dovecot", "native"} {
		for _, action := range []string{"none", "skip", "replace"} {
			t.Run(backend+"/"+action, func(t *testing.T) {
				url := "dovecot=" + legacyURL(dovecot.Addr)
				if backend == "native" {
					spools := t.TempDir()
					if err := os.WriteFile(filepath.Join(spools, login), mbox, 0o600); err != nil {
						t.Fatal(err)
					}
					url = "native=" + mboxURL(spools)
				}
				gate := startRelay(t, "BACKENDS="+url, "DEFAULT_BACKEND="+backend, "ADMIN_LISTEN=127.0.0.1:0",
					"USERS_FILE="+usersFile(t, map[string]string{login: pass}), "POISON_ACTION="+action)
				warmUp(t, gate, login, pass)
				for i := range 3 {
					curlGiveUp(t, gate.Addr, login, pass, 2, "2")
					// The next poll comes after this session ended: the
					// native backend locks the maildrop until then.
					gate.sessionLines(t, i+2)
				}
				lines := gate.sessionLines(t, 4)[1:]
				if lines[2]["poison_msg"] != 2.0 || lines[1]["poison_msg"] != nil {
					t.Errorf("poison_msg on the three session lines: %v, %v, %v; want only the third, 2",
						lines[0]["poison_msg"], lines[1]["poison_msg"], lines[2]["poison_msg"])
				}
				warns := gate.out.Lines(t, "poison message: the client broke off the same message every time")
				if len(warns) != 1 {
					t.Fatalf("%d poison warnings, want 1", len(warns))
				}
				w := warns[0]
				if w["user"] != login || w["msg_num"] != 2.0 || w["subject"] != "the huge one" ||
					w["message_id"] != "<huge@example.org>" || w["breaks"] != 3.0 || w["size"].(float64) < 20<<20-100 || w["uidl"] == "" {
					t.Errorf("warning: %v", w)
				}
				ops := &opsGate{relayGate: gate, admin: "http://" + gate.Admin}
				if got := ops.metric(t, `popgate_poison_messages_total{backend="`+backend+`"}`); got != 1 {
					t.Errorf("poison_messages_total = %v, want 1", got)
				}

				// The next poll of a client that lists and fetches everything.
				rc := testpeer.DialRaw(t, gate.Addr, login, pass)
				ids := rc.Lines("UIDL")
				switch action {
				case "none":
					if len(ids) != 2 {
						t.Errorf("UIDL with action none: %v", ids)
					}
				case "skip":
					if len(ids) != 1 || !strings.HasPrefix(ids[0], "1 ") {
						t.Errorf("UIDL with the message skipped: %v", ids)
					}
					rc.Expect("RETR 2", "-ERR")
				case "replace":
					if len(ids) != 2 || !strings.Contains(ids[1], " held-") {
						t.Errorf("UIDL with the message replaced: %v", ids)
					}
					if body := string(rc.Block("RETR 2")); !strings.Contains(body, "the huge one") || len(body) > 4096 {
						t.Errorf("RETR 2 served %d octets: %.300s", len(body), body)
					}
				}
				rc.Quit()
				gate.sessionLines(t, 5)

				// Released, the message is back under its own UIDL.
				if action != "none" {
					resp, err := http.Post("http://"+gate.Admin+"/poison/release?user="+login+"&uidl="+w["uidl"].(string), "", nil)
					if err != nil || resp.StatusCode != http.StatusOK {
						t.Fatalf("release: %v %v", resp, err)
					}
					resp.Body.Close()
					rc := testpeer.DialRaw(t, gate.Addr, login, pass)
					if ids := rc.Lines("UIDL"); len(ids) != 2 || !strings.HasSuffix(ids[1], " "+w["uidl"].(string)) {
						t.Errorf("UIDL after the release: %v", ids)
					}
					rc.Quit()
				}
			})
		}
	}
}
