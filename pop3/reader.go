package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Line limits, including the terminating CRLF.
const (
	// MaxCommandLine is the longest command a client may send (RFC 2449 section 4).
	MaxCommandLine = 255
	// MaxResponseLine is the longest status line a server may send (RFC 2449 section 4).
	MaxResponseLine = 512
	// MaxSASLLine bounds one SASL response line (RFC 5034 allows it to exceed
	// the command limit; base64 of a long user name and password fits easily).
	MaxSASLLine = 4096
	// MaxArgLen is the longest argument allowed by RFC 1939 section 3.
	MaxArgLen = 40
)

// readBufferSize is the size of a read buffer. Buffers are only lent while
// there is data to read, so it can be large enough to take in a message
// body in few system calls without making an idle session cost more.
const readBufferSize = 32 << 10

// wakeSize is how much a Reader waiting for a peer's next line reads into
// its own small array: a whole typical command ("RETR 12345"), so that the
// read which ends the wait is the only one the command costs.
const wakeSize = 64

// Reader reads POP3 lines with a hard length limit. It borrows a buffer
// while there is data to read: waiting for a peer's next line, it holds none
// (it waits on a read into a small array of its own and borrows once bytes
// arrive), so an idle session costs no buffer on either side of the relay.
type Reader struct {
	src  io.Reader
	r    *bufio.Reader // borrowed from readBuffers; nil when nothing is read ahead
	wake wakeReader
}

// wakeReader feeds a freshly borrowed buffer: first the bytes that ended
// the wait, then the source.
type wakeReader struct {
	src       io.Reader
	b         [wakeSize]byte
	off, have int // b[off:have] is not passed on yet
}

func (w *wakeReader) Read(p []byte) (int, error) {
	if w.off == w.have || len(p) == 0 {
		return w.src.Read(p)
	}
	n := copy(p, w.b[w.off:w.have])
	w.off += n
	return n, nil
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader { return &Reader{src: r} }

// Reset discards any buffered data and reads from r from now on. STLS uses it
// so that no plaintext byte survives the TLS upgrade.
func (r *Reader) Reset(rd io.Reader) {
	r.src = rd
	if r.r != nil {
		r.release()
	}
}

// Buffered returns how many bytes have been read ahead.
func (r *Reader) Buffered() int {
	if r.r == nil {
		return 0
	}
	return r.r.Buffered() + r.wake.have - r.wake.off
}

// Stack depth matters on the path where an idle server session waits
// (ReadLine or ReadCommand, then await): the runtime halves a goroutine's stack only while less
// than a quarter of it is in use, so a few hundred bytes of frames decide
// whether every idle session costs 4 or 8 KiB of stack. The helpers below
// are kept out of line so that their temporaries stay off that path.

// borrow takes a buffer reading from src.
//
//go:noinline
func (r *Reader) borrow(src io.Reader) {
	r.r = readBuffers.get()
	r.r.Reset(src)
}

// release hands the buffer back; whatever it still held is dropped.
//
//go:noinline
func (r *Reader) release() {
	r.r.Reset(nil)
	readBuffers.put(r.r)
	r.r = nil
	r.wake = wakeReader{}
}

// releaseIfDrained hands the buffer back when nothing is read ahead. Only
// call it once no slice of the buffer is in use any more.
func (r *Reader) releaseIfDrained() {
	if r.r != nil && r.Buffered() == 0 {
		r.release()
	}
}

// await makes sure the Reader has a buffer. A line reader (a server waiting
// for its client's next command) waits for the next byte without one once
// everything read ahead has been consumed; a response reader has just sent
// a command, so its wait is short and it borrows at once.
func (r *Reader) await(idle bool) error {
	if idle {
		r.releaseIfDrained()
	}
	if r.r != nil {
		return nil
	}
	if !idle {
		r.borrow(r.src)
		return nil
	}
	for range 100 { // as bufio does, give up on a source that keeps returning nothing
		n, err := r.src.Read(r.wake.b[:])
		if n > 0 {
			// An error that came with the bytes comes again from src.
			r.wake.src, r.wake.off, r.wake.have = r.src, 0, n
			r.borrow(&r.wake)
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Wait waits for the peer's next bytes without reading a line, holding no
// buffer while it waits; the next ReadLine starts with them. A server uses
// it to wait for a command under a deadline of its own: a timeout here
// loses nothing, where one in the middle of ReadLine would lose the line.
func (r *Reader) Wait() error { return r.await(true) }

// ReadLine reads one line of at most max octets including its terminator and
// returns it without CRLF (or bare LF). A longer line is discarded up to the
// next LF and ErrLineTooLong returned, so the next call starts on a fresh line.
// The returned slice is valid until the next read.
func (r *Reader) ReadLine(max int) ([]byte, error) {
	if err := r.await(true); err != nil {
		return nil, err
	}
	line, err := r.readLine(max)
	if err != nil {
		r.releaseIfDrained() // no slice of the buffer is handed out
	}
	return line, err
}

//go:noinline
func (r *Reader) readLine(max int) ([]byte, error) {
	line, err := r.r.ReadSlice('\n')
	switch {
	case err == nil:
		if len(line) > max {
			return nil, ErrLineTooLong
		}
	case errors.Is(err, bufio.ErrBufferFull):
		// Skip the rest of the over-long line.
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.r.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return nil, ErrLineTooLong
	default:
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// ReadCommand reads and parses one client command line.
func (r *Reader) ReadCommand() (Command, error) {
	line, err := r.ReadLine(MaxCommandLine)
	if err != nil {
		return Command{}, err
	}
	return r.parseCommand(line)
}

// parseCommand parses line and hands the buffer back if it is drained: the
// Command holds copies, not the buffer.
//
//go:noinline
func (r *Reader) parseCommand(line []byte) (Command, error) {
	cmd, err := ParseCommand(line)
	r.releaseIfDrained()
	return cmd, err
}

// ReadResponse reads and parses one server status line. It borrows a
// buffer before waiting, so that a block following the line (a message, a
// listing) is read in as few system calls as possible.
func (r *Reader) ReadResponse() (Response, error) { return r.readResponse(false) }

// ReadStatus is ReadResponse for a reply that no block follows (to USER,
// PASS, STAT, DELE...). Like ReadLine it waits without a buffer: during a
// burst of logins thousands of connections wait on their servers at once,
// and a buffer each would be tens of megabytes the process keeps afterwards.
func (r *Reader) ReadStatus() (Response, error) { return r.readResponse(true) }

func (r *Reader) readResponse(idle bool) (Response, error) {
	if err := r.await(idle); err != nil {
		return Response{}, err
	}
	line, err := r.readLine(MaxResponseLine)
	if err != nil {
		r.releaseIfDrained()
		return Response{}, err
	}
	resp, err := ParseResponse(line)
	r.releaseIfDrained() // resp holds copies, not the buffer
	return resp, err
}

// DotReader returns a reader for the multi-line block that follows a status
// line. It must be read to io.EOF before the next line is read.
func (r *Reader) DotReader() *DotReader {
	if r.r == nil {
		r.borrow(r.src) // a block is expected: no point waiting without a buffer
	}
	return &DotReader{r: r.r, owner: r, bol: true}
}

// hasCtl reports whether b holds a byte that may never appear in a command:
// NUL, or a CR that is not part of the line terminator.
func hasCtl(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || bytes.IndexByte(b, '\r') >= 0
}
