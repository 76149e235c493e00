package pop3

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestWriterHoldsNoBufferBetweenResponses(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	if w.w != nil {
		t.Fatal("a new Writer holds a buffer")
	}
	w.OK("one")
	if w.w == nil || out.Len() != 0 {
		t.Fatalf("after OK: buffer %v, %d bytes sent; want a buffer and nothing sent", w.w != nil, out.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.w != nil {
		t.Error("the Writer kept its buffer after a successful Flush")
	}
	w.OK("two")
	w.Flush()
	if got, want := out.String(), "+OK one\r\n+OK two\r\n"; got != want {
		t.Errorf("sent %q, want %q", got, want)
	}
}

func TestWriterKeepsFailedFlush(t *testing.T) {
	fail := NewWriter(errWriter{})
	fail.OK("x")
	if err := fail.Flush(); err == nil {
		t.Fatal("Flush to a failing writer succeeded")
	}
	if err := fail.OK("y"); err == nil {
		t.Error("a write after a failed Flush succeeded; want the error kept")
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestDotWriterSurvivesFlushMidBlock(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.OK("follows")
	dw := w.DotWriter()
	dw.Write([]byte("a\r\n.b\r\nhalf"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	dw.Write([]byte(" line\r\n.c\r\n"))
	dw.Close()
	w.Flush()
	want := "+OK follows\r\na\r\n..b\r\nhalf line\r\n..c\r\n.\r\n"
	if out.String() != want {
		t.Errorf("sent %q, want %q", out.String(), want)
	}
	if dw.Len() != int64(len("a\r\n.b\r\nhalf line\r\n.c\r\n")) {
		t.Errorf("Len = %d", dw.Len())
	}
}

func TestReaderReleasesBufferWhenDrained(t *testing.T) {
	r := NewReader(strings.NewReader("USER bob\r\nPASS x\r\n"))
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Name != "USER" {
		t.Fatalf("ReadCommand = %v, %v", cmd, err)
	}
	if r.r == nil {
		t.Fatal("released the buffer with a pipelined command still in it")
	}
	if cmd, err = r.ReadCommand(); err != nil || cmd.Name != "PASS" {
		t.Fatalf("ReadCommand = %v, %v", cmd, err)
	}
	if r.r != nil {
		t.Error("kept the buffer once every command was read")
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}

func TestReadLineKeepsItsSliceUntilTheNextRead(t *testing.T) {
	r := NewReader(strings.NewReader("first\r\n"))
	line, err := r.ReadLine(MaxCommandLine)
	if err != nil {
		t.Fatal(err)
	}
	if r.r == nil {
		t.Fatal("released the buffer the returned line points into")
	}
	if string(line) != "first" {
		t.Fatalf("line = %q", line)
	}
	if _, err := r.ReadLine(MaxCommandLine); err != io.EOF {
		t.Fatalf("second read: %v, want io.EOF", err)
	}
	if r.r != nil {
		t.Error("waited for more input while holding a buffer")
	}
}

// TestReaderSources reads the same lines and block through sources that
// return data in awkward pieces: the byte that ends an idle wait must come
// out first, exactly once.
func TestReaderSources(t *testing.T) {
	const input = "+OK 2 messages\r\n1 aaa\r\n.\r\nSTAT\r\nx\r\n+OK block\r\n..dot\r\nbody\r\n.\r\n-ERR [IN-USE] busy\r\n"
	sources := map[string]func() io.Reader{
		"whole":    func() io.Reader { return strings.NewReader(input) },
		"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(input)) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(input)) },
		"data+err": func() io.Reader { return iotest.DataErrReader(strings.NewReader(input)) },
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			r := NewReader(src())
			var got []string
			line := func(a ...any) string { return strings.TrimSuffix(fmt.Sprintln(a...), "\n") }
			resp, err := r.ReadResponse()
			got = append(got, line(resp.OK, resp.Text, err))
			l, err := r.ReadLine(MaxResponseLine)
			got = append(got, line(string(l), err))
			l, err = r.ReadLine(MaxResponseLine)
			got = append(got, line(string(l), err))
			cmd, err := r.ReadCommand()
			got = append(got, line(cmd.Name, err))
			l, err = r.ReadLine(MaxCommandLine)
			got = append(got, line(string(l), err))
			resp, err = r.ReadResponse()
			got = append(got, line(resp.OK, resp.Text, err))
			body, err := io.ReadAll(r.DotReader())
			got = append(got, fmt.Sprintf("%q %v", body, err))
			resp, err = r.ReadResponse()
			got = append(got, line(resp.OK, resp.Code, resp.Text, err))
			_, err = r.ReadResponse()
			got = append(got, line(err))
			want := []string{
				"true 2 messages <nil>", "1 aaa <nil>", ". <nil>", "STAT <nil>", "x <nil>",
				"true block <nil>", `".dot\r\nbody\r\n" <nil>`, "false IN-USE busy <nil>", "EOF",
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("read\n%q\nwant\n%q", got, want)
			}
			if r.r != nil {
				t.Error("holds a buffer at the end of the input")
			}
		})
	}
}

func TestDotReaderReleasesAtTheEnd(t *testing.T) {
	r := NewReader(strings.NewReader("line\r\n.\r\n"))
	dr := r.DotReader()
	if _, err := io.ReadAll(dr); err != nil {
		t.Fatal(err)
	}
	if r.r != nil {
		t.Error("kept the buffer after the block ended with nothing read ahead")
	}
	if err := dr.Close(); err != nil {
		t.Errorf("Close after the end: %v", err)
	}
}

func TestResetDropsReadAhead(t *testing.T) {
	r := NewReader(strings.NewReader("STLS\r\nplaintext\r\n"))
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() == 0 {
		t.Fatal("nothing read ahead; the test needs pipelined input")
	}
	r.Reset(strings.NewReader("CAPA\r\n"))
	if r.Buffered() != 0 {
		t.Errorf("Buffered = %d after Reset", r.Buffered())
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "CAPA" {
		t.Errorf("after Reset: %v, %v; want CAPA from the new source", cmd, err)
	}
}

// TestBuffersAreNotShared runs many conversations at once over sockets, so
// that buffers go back and forth through the pools: each side must only
// ever see its own peer's lines (run it with -race).
func TestBuffersAreNotShared(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const conns, rounds = 16, 50
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // echo server: answers every command with its argument
		defer wg.Done()
		for range conns {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				r, w := NewReader(c), NewWriter(c)
				for {
					cmd, err := r.ReadCommand()
					if err != nil {
						return
					}
					w.OK(strings.Join(cmd.Args, " "))
					dw := w.DotWriter()
					fmt.Fprintf(dw, "%s\r\n.%s\r\n", strings.Repeat(cmd.Args[0], 100), cmd.Args[0])
					dw.Close()
					if err := w.Flush(); err != nil {
						return
					}
				}
			}()
		}
	}()
	errs := make(chan error, conns)
	for i := range conns {
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			r, w := NewReader(c), NewWriter(c)
			for j := range rounds {
				token := fmt.Sprintf("c%dr%d", i, j)
				w.Line("NOOP " + token)
				if err := w.Flush(); err != nil {
					errs <- err
					return
				}
				resp, err := r.ReadResponse()
				if err != nil || resp.Text != token {
					errs <- fmt.Errorf("conn %d: response %q, %v; want %q", i, resp.Text, err, token)
					return
				}
				body, err := io.ReadAll(r.DotReader())
				if want := strings.Repeat(token, 100) + "\r\n." + token + "\r\n"; err != nil || string(body) != want {
					errs <- fmt.Errorf("conn %d: body %q, %v", i, body, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	ln.Close()
	wg.Wait()
}

func TestReleaseKeepsReadAhead(t *testing.T) {
	r := NewReader(strings.NewReader("NOOP\r\nQUIT\r\n"))
	line, err := r.ReadLine(MaxCommandLine)
	if err != nil || string(line) != "NOOP" {
		t.Fatalf("ReadLine = %q, %v", line, err)
	}
	r.Release()
	if r.r == nil {
		t.Fatal("Release dropped a pipelined command")
	}
	line, err = r.ReadLine(MaxCommandLine)
	if err != nil || string(line) != "QUIT" {
		t.Fatalf("ReadLine = %q, %v", line, err)
	}
	r.Release()
	if r.r != nil {
		t.Error("Release kept a drained buffer")
	}
	if _, err := r.ReadLine(MaxCommandLine); err != io.EOF {
		t.Errorf("after Release: %v, want io.EOF", err)
	}
}

// chunkReader returns one chunk per Read, as a socket returns one segment,
// and counts the calls.
type chunkReader struct {
	chunks []string
	reads  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.reads++
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// TestCommandCostsOneRead: the read that ends an idle wait takes in a whole
// ordinary command, so each command costs one read of the socket, and a
// command longer than that read still comes out whole.
func TestCommandCostsOneRead(t *testing.T) {
	long := "USER " + strings.Repeat("u", 2*wakeSize)
	src := &chunkReader{chunks: []string{"RETR 12345\r\n", "DELE 7\r\n", long + "\r\n"}}
	r := NewReader(src)
	for i, want := range []string{"RETR 12345", "DELE 7"} {
		line, err := r.ReadLine(MaxCommandLine)
		if err != nil || string(line) != want {
			t.Fatalf("line %d = %q, %v; want %q", i, line, err, want)
		}
		if src.reads != i+1 {
			t.Errorf("after %q: %d reads, want %d", want, src.reads, i+1)
		}
	}
	line, err := r.ReadLine(MaxCommandLine)
	if err != nil || string(line) != long {
		t.Fatalf("long line = %q, %v", line, err)
	}
	if r.Buffered() != 0 {
		t.Errorf("Buffered = %d after the last line", r.Buffered())
	}
}

// watchedSource records, at each read, whether the Reader held a buffer:
// a read it waits on while holding one is where that buffer sits idle.
type watchedSource struct {
	chunkReader
	r    *Reader
	held []bool
}

func (w *watchedSource) Read(p []byte) (int, error) {
	w.held = append(w.held, w.r.r != nil)
	return w.chunkReader.Read(p)
}

func TestReadStatusWaitsWithoutABuffer(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(*Reader) (Response, error)
		held bool
	}{
		{"ReadStatus", (*Reader).ReadStatus, false},
		{"ReadResponse", (*Reader).ReadResponse, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &watchedSource{chunkReader: chunkReader{chunks: []string{"+OK 3 360\r\n"}}}
			src.r = NewReader(src)
			resp, err := tc.read(src.r)
			if err != nil || !resp.OK || resp.Text != "3 360" {
				t.Fatalf("reply = %+v, %v", resp, err)
			}
			if len(src.held) != 1 || src.held[0] != tc.held {
				t.Errorf("reads holding a buffer: %v, want [%v]", src.held, tc.held)
			}
			if src.r.r != nil {
				t.Error("kept the buffer after the reply")
			}
		})
	}
}
