package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// wireScript is a session over every command whose reply popgate relays,
// failures included. It deletes nothing for good (RSET before QUIT), so it
// can be played twice on the same maildrop.
var wireScript = []string{
	"STAT", "LIST", "LIST 2", "LIST 99", "UIDL", "UIDL 2", "UIDL 99",
	"RETR 1", "RETR 3", "TOP 2 0", "TOP 3 2", "RETR 99",
	"DELE 2", "STAT", "LIST", "UIDL", "RETR 2", "DELE 2",
	"NOOP", "RSET", "STAT", "LIST", "DELE 1", "RSET", "QUIT",
}

// TestWireSameThroughPopgate compares the raw bytes of every reply, status
// lines included, of the same session played directly against Dovecot and
// popa3d and through popgate in front of them. Only the greeting (popgate's
// own, with its APOP timestamp) and CAPA (popgate's capabilities) may differ.
func TestWireSameThroughPopgate(t *testing.T) {
	for name, srv := range legacyServers(t, testpeer.TrickyMbox()) {
		t.Run(name, func(t *testing.T) {
			user := srv.Login("rachel")
			gate := startRelay(t, "BACKENDS=legacy="+legacyURL(srv.Addr), "DEFAULT_BACKEND=legacy")
			direct := playWire(t, srv.Addr, user)
			via := playWire(t, gate.Addr, user)
			for i, cmd := range append([]string{"USER", "PASS"}, wireScript...) {
				if !bytes.Equal(direct[i], via[i]) {
					t.Errorf("%s: directly\n%q\nthrough popgate\n%q", cmd, clip(direct[i]), clip(via[i]))
				}
			}
		})
	}
}

// playWire logs in with USER and PASS, plays wireScript, and returns the
// raw reply to each command after the greeting.
func playWire(t *testing.T, addr, user string) [][]byte {
	t.Helper()
	rc := testpeer.Dial(t, addr)
	defer rc.Close()
	replies := [][]byte{rc.Wire("USER " + user), rc.Wire("PASS s3cret pass")}
	if !bytes.HasPrefix(replies[1], []byte("+OK")) {
		t.Fatalf("login at %s: %q", addr, replies[1])
	}
	for _, cmd := range wireScript {
		replies = append(replies, rc.Wire(cmd))
	}
	return replies
}

// clip shortens a long reply for the failure message.
func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// TestNativeWireFollowsPopa3d plays the same session against popa3d and
// against the native backend over a copy of its spool: every reply must be
// the same bytes, except that RETR's status line carries the octet count
// and an -ERR carries a reason, where popa3d's have neither.
func TestNativeWireFollowsPopa3d(t *testing.T) {
	// Not TrickyMbox: for its message without a final newline, LIST
	// sizes differ by one octet between popa3d and the native backend.
	mbox := testpeer.SimpleMbox(4)
	popa3d := testpeer.StartPopa3d(t, []testpeer.User{{Name: "rachel", Password: "s3cret pass", Mbox: mbox}})
	user := popa3d.Login("rachel")
	spools := spoolDir(t, user, mbox)
	gate := startRelay(t, "BACKENDS=native="+mboxURL(spools, "uidl=popa3d"), "DEFAULT_BACKEND=native",
		"USERS_FILE="+usersFile(t, map[string]string{user: "s3cret pass"}))
	direct := playWire(t, popa3d.Addr, user)
	native := playWire(t, gate.Addr, user)
	for i, cmd := range append([]string{"USER", "PASS"}, wireScript...) {
		d, n := direct[i], native[i]
		switch {
		case bytes.HasPrefix(d, []byte("-ERR")):
			if !bytes.HasPrefix(n, []byte("-ERR")) {
				t.Errorf("%s: popa3d refused, native answered %q", cmd, clip(n))
			}
			continue
		case strings.HasPrefix(cmd, "RETR "):
			d, n = afterLine(d), afterLine(n)
		}
		if !bytes.Equal(d, n) {
			t.Errorf("%s: popa3d\n%q\nnative\n%q", cmd, clip(d), clip(n))
		}
	}
}

// afterLine drops a reply's status line.
func afterLine(b []byte) []byte {
	_, rest, _ := bytes.Cut(b, []byte("\n"))
	return rest
}
