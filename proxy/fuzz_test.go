package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/session"
)

// FuzzSession plays fuzzed client input into a session over the fake
// backend. Invariants: the server never panics, each connection gets
// exactly one session record, every Mailbox handed out is released (closed
// or updated), and nothing is committed unless the client sent QUIT.
// Plain "go test" runs the seeds: the transcripts' client lines and a few
// hostile inputs.
func FuzzSession(f *testing.F) {
	files, _ := filepath.Glob("testdata/transcripts/*.txt")
	for _, file := range files {
		tr, err := pop3test.LoadTranscript(file)
		if err != nil {
			f.Fatal(err)
		}
		var in strings.Builder
		for _, st := range tr.Steps {
			if st.Kind == "C" {
				in.WriteString(st.Text + "\r\n")
			}
		}
		f.Add([]byte(in.String()))
	}
	for _, s := range []string{
		"USER bob\r\nPASS secret\r\nRETR 1\r\nDELE 1\r\n",
		"USER bob\r\nPASS secret\r\nTOP 2 99999999\r\nRETR 4294967296\r\nLIST -1\r\nQUIT\r\n",
		"AUTH PLAIN\r\n" + strings.Repeat("A", 5000) + "\r\n",
		"USER bob\nPASS secret\nRETR 1\rDELE 1\nQUIT\n",
		"\x00\r\n", "\r\n\r\n\x00\r\nQUIT\n",
	} {
		f.Add([]byte(s))
	}
	ends := make(chan *session.Record, 1)
	env := startServer(f, func(o *Options, _ *pop3test.Mailbox) {
		o.OnSessionEnd = func(r *session.Record) { ends <- r }
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		conn, err := net.DialTimeout("tcp", env.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			conn.Write(data)
			conn.(*net.TCPConn).CloseWrite()
		}()
		if _, err := io.Copy(io.Discard, bufio.NewReader(conn)); err != nil && !isReset(err) {
			t.Fatalf("reading the replies: %v", err)
		}
		select {
		case <-ends:
		case <-time.After(10 * time.Second):
			t.Fatal("no session record")
		}
		if n := env.logs.FilterMessage("session panic").Len(); n != 0 {
			t.Fatalf("input %q panicked the session", data)
		}
		quit := strings.Contains(strings.ToUpper(string(data)), "QUIT")
		for {
			select {
			case m := <-env.boxes:
				if !m.Closed() && !m.Updated() {
					t.Fatalf("input %q: mailbox neither closed nor updated", data)
				}
				if m.Updated() && !quit {
					t.Fatalf("input %q: update without QUIT", data)
				}
			default:
				return
			}
		}
	})
}

// isReset reports a connection the server closed while input was unread.
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// TestMain checks that no goroutine outlives the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
