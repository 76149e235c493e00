package pop3test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dial connects to srv and returns a reader with a deadline set.
func dial(t *testing.T, srv *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %q, %v", line, err)
	}
	return line
}

func TestScriptReplies(t *testing.T) {
	srv := Start(t, (&Script{Replies: map[string]Reply{
		"RETR 1": Lines("+OK", "one", "."),
		"RETR":   Lines("-ERR no such message"),
		"QUIT":   {Text: "+OK bye\r\n", Close: true},
	}}).Serve)
	c, r := dial(t, srv)
	if got := readLine(t, r); got != "+OK pop3test ready\r\n" {
		t.Errorf("greeting %q", got)
	}
	io.WriteString(c, "RETR 1\r\nretr 2\r\nNOOP\r\nQUIT\r\n")
	var got []string
	for range 6 {
		got = append(got, readLine(t, r))
	}
	want := []string{"+OK\r\n", "one\r\n", ".\r\n", "-ERR no such message\r\n", "-ERR unknown command\r\n", "+OK bye\r\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("replies %q, want %q", got, want)
	}
	if line, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("after QUIT: %q, %v; want EOF", line, err)
	}
	srv.Close()
	if srv.Count("RETR") != 2 || srv.Count("QUIT") != 1 || srv.Count("STAT") != 0 {
		t.Errorf("counts RETR %d QUIT %d STAT %d", srv.Count("RETR"), srv.Count("QUIT"), srv.Count("STAT"))
	}
}

func TestScriptCloseMidReply(t *testing.T) {
	srv := Start(t, (&Script{Replies: map[string]Reply{
		"RETR": {Text: "+OK\r\nSubject: half\r\n", Close: true},
	}}).Serve)
	c, r := dial(t, srv)
	readLine(t, r)
	io.WriteString(c, "RETR 1\r\n")
	body, err := io.ReadAll(r)
	if err != nil || string(body) != "+OK\r\nSubject: half\r\n" {
		t.Errorf("RETR cut short: %q, %v", body, err)
	}
}

func TestScriptSlowBytes(t *testing.T) {
	const pause = 20 * time.Millisecond
	srv := Start(t, (&Script{Greeting: Reply{Text: "+OK slow\r\n", Pause: pause}}).Serve)
	start := time.Now()
	_, r := dial(t, srv)
	if got := readLine(t, r); got != "+OK slow\r\n" {
		t.Errorf("greeting %q", got)
	}
	if d := time.Since(start); d < 10*pause {
		t.Errorf("10 bytes came in %v, want at least %v", d, 10*pause)
	}
}

// A hung connection holds its client until the server closes, and Close
// does not wait for the connection's deadline to end it.
func TestHangEndsAtClose(t *testing.T) {
	srv := Start(t, (&Script{Greeting: Reply{Hang: true}}).Serve)
	c, r := dial(t, srv)
	io.WriteString(c, "CAPA\r\n")
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if line, err := r.ReadString('\n'); !isTimeout(err) {
		t.Fatalf("a hung server answered %q, %v", line, err)
	}
	start := time.Now()
	srv.Close()
	if d := time.Since(start); d > Deadline/2 {
		t.Errorf("Close took %v", d)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Errorf("after Close: %q, %v; want the connection closed", line, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestConversation(t *testing.T) {
	srv := Start(t, func(c *Conn) {
		c.Send("+OK hi")
		if c.Expect("USER a") {
			c.Send("+OK", "+OK")
			c.ExpectEOF()
		}
	})
	c, r := dial(t, srv)
	readLine(t, r)
	io.WriteString(c, "USER a\r\n")
	if got := readLine(t, r) + readLine(t, r); got != "+OK\r\n+OK\r\n" {
		t.Errorf("replies %q", got)
	}
	c.Close()
	srv.Close()
	if srv.Count("USER") != 1 {
		t.Errorf("USER count %d", srv.Count("USER"))
	}
}

// Expect reports a wrong command as a failure of the test.
func TestExpectMismatchFails(t *testing.T) {
	rec := &recorder{}
	srv, err := Listen("127.0.0.1:0", func(c *Conn) { c.Expect("USER a") })
	if err != nil {
		t.Fatal(err)
	}
	srv.errorf = rec.Errorf
	srv.wg.Go(func() { srv.Serve() })
	t.Cleanup(srv.Close)
	c, _ := dial(t, srv)
	io.WriteString(c, "USER b\r\n")
	srv.Close()
	if len(rec.msgs) != 1 || !strings.Contains(rec.msgs[0], `"USER b\r\n"`) {
		t.Errorf("reported %q, want the wrong command", rec.msgs)
	}
}

type recorder struct{ msgs []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func TestClosedAddrRefuses(t *testing.T) {
	addr := ClosedAddr(t)
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		c.Close()
		t.Errorf("dial %s succeeded", addr)
	}
}
