package e2e

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// retrMbox is an mbox of n messages of about 1 KB, the size at which
// popa3d's replies come in pieces that a delayed ACK would hold up.
func retrMbox(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		var msg bytes.Buffer
		fmt.Fprintf(&msg, "From: bench@example.org\nTo: user@example.net\nSubject: message %d\n"+
			"Message-ID: <retr-%d@example.org>\n\n", i, i)
		for line := 0; msg.Len() < 1000; line++ {
			if line == 3 {
				msg.WriteString(".a line that is dot-stuffed on the wire\n")
			}
			fmt.Fprintf(&msg, "Line %d of message %d, the quick brown fox jumps over the lazy dog.\n", line, i)
		}
		b.Write(testpeer.MboxMessage(msg.Bytes()))
	}
	return b.Bytes()
}

// Through popgate, which arms TCP_QUICKACK on its connection to popa3d
// between a command and the end of its reply, 50 RETRs and 50 TOPs return
// the very bytes popa3d serves directly: status lines, dot-stuffing and
// all. (That the option is armed is checked in package upstream; how much
// it saves is in docs/benchmarks.md, measured by bench/popa3d.sh.)
func TestPopa3dRetrsThroughPopgate(t *testing.T) {
	const n = 50
	srv := testpeer.StartPopa3d(t, []testpeer.User{{Name: "rachel", Password: "s3cret pass", Mbox: retrMbox(n)}})
	user := srv.Login("rachel")
	gate := startRelay(t, "BACKENDS=legacy="+legacyURL(srv.Addr), "DEFAULT_BACKEND=legacy")

	fetch := func(addr string) [][]byte {
		raw := testpeer.DialRaw(t, addr, user, "s3cret pass")
		var replies [][]byte
		for i := 1; i <= n; i++ {
			replies = append(replies, raw.Wire(fmt.Sprintf("RETR %d", i)))
		}
		for i := 1; i <= n; i++ {
			replies = append(replies, raw.Wire(fmt.Sprintf("TOP %d 5", i)))
		}
		raw.Quit()
		return replies
	}
	direct := fetch(srv.Addr)
	via := fetch(gate.Addr)
	for i := range direct {
		cmd := fmt.Sprintf("RETR %d", i+1)
		if i >= n {
			cmd = fmt.Sprintf("TOP %d 5", i-n+1)
		}
		if !bytes.HasPrefix(direct[i], []byte("+OK")) || len(direct[i]) < 100 && i < n {
			t.Fatalf("%s directly: %q, want a message", cmd, direct[i])
		}
		if !bytes.Equal(direct[i], via[i]) {
			t.Errorf("%s: %d bytes directly, %d through popgate; first difference at %d",
				cmd, len(direct[i]), len(via[i]), firstDiff(direct[i], via[i]))
		}
	}
	line := gate.sessionLines(t, 1)[0]
	if line["result"] != "ok" || line["retr_msgs"] != float64(2*n) {
		t.Errorf("session line %v, want result ok and retr_msgs %d (RETR and TOP)", line, 2*n)
	}
}
