package pop3test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// Deadline bounds the wait for each command on a connection of a server
// started with Start, and the writes in between, so that a wrong script
// fails a test instead of hanging it.
var Deadline = 10 * time.Second

// Server is a fake POP3 server: it runs a handler for each connection,
// either a hand-written conversation or a Script's canned replies. Close
// waits for every goroutine the server started.
type Server struct {
	// Addr is the address the server listens on, 127.0.0.1:port for Start.
	Addr string

	ln       net.Listener
	handle   func(*Conn)
	deadline time.Duration
	errorf   func(format string, args ...any)
	done     chan struct{} // closed by Close; ends every Hang
	wg       sync.WaitGroup
	once     sync.Once

	mu     sync.Mutex
	counts map[string]int // commands read, by upper-case verb
}

// Start serves handle on a free port of 127.0.0.1 until the test ends.
func Start(t testing.TB, handle func(*Conn)) *Server {
	t.Helper()
	return StartAt(t, "127.0.0.1:0", handle)
}

// StartAt is Start on a given address, for a test that brings a stopped
// server back where its clients expect it.
func StartAt(t testing.TB, addr string, handle func(*Conn)) *Server {
	t.Helper()
	s, err := Listen(addr, handle)
	if err != nil {
		t.Fatal(err)
	}
	s.deadline, s.errorf = Deadline, t.Errorf
	s.wg.Go(func() {
		if err := s.Serve(); err != nil {
			t.Errorf("pop3test: %v", err)
		}
	})
	t.Cleanup(s.Close)
	return s
}

// Listen listens on addr for Serve. Its connections have no deadline and
// it reports a broken script on standard error: it is for programs, where
// Start is for tests.
func Listen(addr string, handle func(*Conn)) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{
		Addr:   ln.Addr().String(),
		ln:     ln,
		handle: handle,
		errorf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "pop3test: "+format+"\n", args...)
		},
		done:   make(chan struct{}),
		counts: map[string]int{},
	}, nil
}

// Serve accepts connections until Close, when it returns nil, or until
// accepting fails.
func (s *Server) Serve() error {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
				return err
			}
		}
		s.wg.Go(func() {
			defer nc.Close()
			if s.deadline > 0 {
				nc.SetDeadline(time.Now().Add(s.deadline))
			}
			// A small buffer: the server reads only short command lines,
			// and an idle session should cost it little.
			s.handle(&Conn{srv: s, nc: nc, r: bufio.NewReaderSize(nc, 512)})
		})
	}
}

// Close stops listening, ends every Hang and waits for every connection's
// handler to return. It is safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.ln.Close()
	})
	s.wg.Wait()
}

// Count returns how many commands with the verb (upper case) the server
// has read.
func (s *Server) Count(verb string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[verb]
}

// Conn is the server side of one connection.
type Conn struct {
	srv *Server
	nc  net.Conn
	r   *bufio.Reader
}

// NetConn returns the connection, for a test that writes or sets
// deadlines itself.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Reader returns the buffered reader of the connection, for a test that
// parses something other than command lines (a PROXY header).
func (c *Conn) Reader() *bufio.Reader { return c.r }

// ReadLine reads one command line and returns it with its line ending.
func (c *Conn) ReadLine() (string, error) {
	if c.srv.deadline > 0 {
		c.nc.SetDeadline(time.Now().Add(c.srv.deadline))
	}
	line, err := c.r.ReadString('\n')
	if line != "" {
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		c.srv.mu.Lock()
		c.srv.counts[strings.ToUpper(verb)]++
		c.srv.mu.Unlock()
	}
	return line, err
}

// Send writes lines, each with CRLF, in one write.
func (c *Conn) Send(lines ...string) {
	c.Write(strings.Join(lines, "\r\n") + "\r\n")
}

// Write writes data as is: a reply cut short, bare LFs, several replies.
func (c *Conn) Write(data string) {
	if _, err := io.WriteString(c.nc, data); err != nil {
		c.srv.errorf("fake server: write: %v", err)
	}
}

// WriteSlowly writes data one byte at a time, pausing before each byte,
// as a server on a congested link does. It stops early if a write fails.
func (c *Conn) WriteSlowly(data string, pause time.Duration) {
	for i := range len(data) {
		time.Sleep(pause)
		if _, err := c.nc.Write([]byte{data[i]}); err != nil {
			return
		}
	}
}

// Expect reads one command line and checks that it is want; a mismatch
// fails the test.
func (c *Conn) Expect(want string) bool {
	got, err := c.ReadLine()
	if err != nil {
		c.srv.errorf("fake server: waiting for %q: %v", want, err)
		return false
	}
	if got != want+"\r\n" {
		c.srv.errorf("fake server got %q, want %q", got, want+"\r\n")
		return false
	}
	return true
}

// ExpectEOF checks that the client hangs up without another command.
func (c *Conn) ExpectEOF() {
	if line, err := c.ReadLine(); err == nil || line != "" {
		c.srv.errorf("fake server: got %q (%v), want the connection closed", line, err)
	}
}

// Hang stops answering: it reads and drops whatever the client sends until
// the client hangs up, the connection's deadline passes or the server is
// closed.
func (c *Conn) Hang() {
	stop := make(chan struct{})
	defer close(stop)
	c.srv.wg.Go(func() {
		select {
		case <-c.srv.done:
			c.nc.Close()
		case <-stop:
		}
	})
	io.Copy(io.Discard, c.r)
}

// Handshake runs the server side of a TLS handshake and returns the
// conversation over TLS; a failed handshake fails the test.
func (c *Conn) Handshake(cfg *tls.Config) (*Conn, bool) {
	tc := tls.Server(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		c.srv.errorf("fake server: handshake: %v", err)
		return nil, false
	}
	return &Conn{srv: c.srv, nc: tc, r: bufio.NewReaderSize(tc, 512)}, true
}

// StartTLS answers an STLS command and runs the handshake.
func (c *Conn) StartTLS(cfg *tls.Config) (*Conn, bool) {
	if !c.Expect("STLS") {
		return nil, false
	}
	c.Send("+OK begin TLS")
	return c.Handshake(cfg)
}

// Reply is what a Script sends for a command, and the fault it plays.
type Reply struct {
	// Text is sent as is: whole lines end in CRLF, a multi-line reply
	// includes its terminating dot, a reply cut short simply stops.
	Text string
	// Pause, when set, sends Text one byte at a time with this pause
	// before each byte: slow bytes.
	Pause time.Duration
	// Close closes the connection after Text: the answer to QUIT, or with
	// a partial Text a connection lost in the middle of a reply.
	Close bool
	// Hang sends nothing more after Text and reads no more commands: a
	// server that stopped answering (see Conn.Hang).
	Hang bool
}

// Lines is a Reply of whole lines, each sent with CRLF.
func Lines(lines ...string) Reply {
	return Reply{Text: strings.Join(lines, "\r\n") + "\r\n"}
}

// Script is a fake server's canned replies. Its Serve method is a handler
// for Start.
type Script struct {
	// Greeting is sent first; the zero Reply sends "+OK pop3test ready".
	Greeting Reply
	// Replies answer commands, looked up by the whole line as received
	// ("RETR 1") and then by the verb in upper case ("RETR").
	Replies map[string]Reply
	// Unknown answers every other command; the zero Reply sends
	// "-ERR unknown command".
	Unknown Reply
}

// Serve plays the script on one connection.
func (sc *Script) Serve(c *Conn) {
	greeting := sc.Greeting
	if greeting == (Reply{}) {
		greeting = Lines("+OK pop3test ready")
	}
	if !sc.play(c, greeting) {
		return
	}
	for {
		line, err := c.ReadLine()
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, _, _ := strings.Cut(line, " ")
		reply, ok := sc.Replies[line]
		if !ok {
			reply, ok = sc.Replies[strings.ToUpper(verb)]
		}
		if !ok {
			reply = sc.Unknown
			if reply == (Reply{}) {
				reply = Lines("-ERR unknown command")
			}
		}
		if !sc.play(c, reply) {
			return
		}
	}
}

// play sends one reply and reports whether the conversation goes on.
func (sc *Script) play(c *Conn, r Reply) bool {
	if r.Pause > 0 {
		c.WriteSlowly(r.Text, r.Pause)
	} else if r.Text != "" {
		// Conn.Write neither keeps nor changes its argument: a large reply
		// (a benchmark's message) goes out without a copy per command.
		if _, err := c.nc.Write(unsafe.Slice(unsafe.StringData(r.Text), len(r.Text))); err != nil {
			return false // the client is gone; a script does not judge that
		}
	}
	switch {
	case r.Hang:
		c.Hang()
		return false
	case r.Close:
		return false
	}
	return true
}

// ClosedAddr returns a loopback address where nothing listens, for tests
// of a refused connection.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Eventually polls cond until it holds, failing the test after a generous
// wall-clock limit with what it waited for and whatever show adds. It only
// synchronises with goroutines; it measures nothing.
func Eventually(t testing.TB, what string, cond func() bool, show ...func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			for _, f := range show {
				what += "; " + f()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 10*time.Millisecond)
	}
}
