package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
)

// pipelinedCount is how many messages the pipelined session retrieves and
// deletes: enough that neither side's socket buffers can hold the replies.
const pipelinedCount = 500

// pipelinedMbox holds pipelinedCount messages of varied sizes, with
// dot-stuffed lines, about 4 MB in all.
func pipelinedMbox() []byte {
	var b bytes.Buffer
	for i := 1; i <= pipelinedCount; i++ {
		var msg bytes.Buffer
		fmt.Fprintf(&msg, "From: sender@example.org\nSubject: pipelined %d\nMessage-ID: <pipe-%d@example.org>\n\n", i, i)
		for l := 0; l < (i*37)%300; l++ {
			fmt.Fprintf(&msg, "%sline %d of message %d, padded to look like mail text.\n", strings.Repeat(".", l%3), l, i)
		}
		b.Write(testpeer.MboxMessage(msg.Bytes()))
	}
	return b.Bytes()
}

// TestPipelinedRetrDele writes RETR n and DELE n for every message and a
// QUIT in one stream while reading the replies, directly and through
// popgate, against Dovecot (which offers PIPELINING) and popa3d (which does
// not). Both ways must give the same bytes, and nothing may deadlock with
// the socket buffers full in both directions.
func TestPipelinedRetrDele(t *testing.T) {
	mbox := pipelinedMbox()
	for name, srv := range legacyServers(t, mbox) {
		t.Run(name, func(t *testing.T) {
			user := srv.Login("rachel")
			direct := pipelinedSession(t, srv.Addr, user)
			srv.SetMbox(t, "rachel", mbox)
			gate := startRelay(t, "BACKENDS=legacy="+legacyURL(srv.Addr), "DEFAULT_BACKEND=legacy")
			via := pipelinedSession(t, gate.Addr, user)
			if !bytes.Equal(direct, via) {
				t.Errorf("%d bytes directly, %d through popgate; first difference at %d:\n%q",
					len(direct), len(via), firstDiff(direct, via), clip(via[min(firstDiff(direct, via), len(via)):]))
			}
			if n := bytes.Count(via, []byte("\r\n.\r\n")); n != pipelinedCount {
				t.Errorf("%d messages ended through popgate, want %d", n, pipelinedCount)
			}
			if l := gate.sessionLines(t, 1)[0]; l["result"] != "ok" || l["deleted_msgs"] != float64(pipelinedCount) {
				t.Errorf("session line %v, want ok with %d deleted", l, pipelinedCount)
			}
		})
	}
}

// pipelinedSession logs in, then sends every RETR and DELE and the QUIT
// without waiting, and reads the replies only after a pause; it returns
// everything read after the login.
func pipelinedSession(t *testing.T, addr, user string) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReader(conn)
	for _, cmd := range []string{"", "USER " + user, "PASS s3cret pass"} {
		if cmd != "" {
			fmt.Fprintf(conn, "%s\r\n", cmd)
		}
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("login at %s: %q, %v", addr, line, err)
		}
	}
	sent := make(chan error, 1)
	go func() {
		var cmds bytes.Buffer
		for n := 1; n <= pipelinedCount; n++ {
			fmt.Fprintf(&cmds, "RETR %d\r\nDELE %d\r\n", n, n)
		}
		cmds.WriteString("QUIT\r\n")
		_, err := conn.Write(cmds.Bytes())
		sent <- err
	}()
	// Read only once the replies have filled the buffers from popgate to
	// the client and from the server to popgate.
	time.Sleep(time.Second)
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil {
		t.Fatalf("reading the replies: %v after %d bytes", err, got.Len())
	}
	if err := <-sent; err != nil {
		t.Fatalf("writing the commands: %v", err)
	}
	return got.Bytes()
}
