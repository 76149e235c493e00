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

// readBufferSize keeps a whole status line and a typical message line in one
// buffer without growing it per connection.
const readBufferSize = 4096

// Reader reads POP3 lines with a hard length limit.
type Reader struct {
	r *bufio.Reader
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, readBufferSize)}
}

// Reset discards any buffered data and reads from r from now on. STLS uses it
// so that no plaintext byte survives the TLS upgrade.
func (r *Reader) Reset(rd io.Reader) { r.r.Reset(rd) }

// Buffered returns how many bytes have been read ahead.
func (r *Reader) Buffered() int { return r.r.Buffered() }

// ReadLine reads one line of at most max octets including its terminator and
// returns it without CRLF (or bare LF). A longer line is discarded up to the
// next LF and ErrLineTooLong returned, so the next call starts on a fresh line.
// The returned slice is valid until the next read.
func (r *Reader) ReadLine(max int) ([]byte, error) {
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
	return ParseCommand(line)
}

// ReadResponse reads and parses one server status line.
func (r *Reader) ReadResponse() (Response, error) {
	line, err := r.ReadLine(MaxResponseLine)
	if err != nil {
		return Response{}, err
	}
	return ParseResponse(line)
}

// DotReader returns a reader for the multi-line block that follows a status
// line. It must be read to io.EOF before the next line is read.
func (r *Reader) DotReader() *DotReader {
	return &DotReader{r: r.r, bol: true}
}

// hasCtl reports whether b holds a byte that may never appear in a command:
// NUL, or a CR that is not part of the line terminator.
func hasCtl(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || bytes.IndexByte(b, '\r') >= 0
}
