package e2e

import (
	"bytes"
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
