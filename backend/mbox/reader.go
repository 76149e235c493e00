package mbox

import (
	"bytes"
	"io"
)

// CRLFReader turns bare LF line ends into CRLF and ends unterminated data
// with a line end, exactly as pop3.DotWriter and pop3.WireSize count them, so
// the bytes read equal the size LIST reports. It streams: memory use does
// not depend on line or message length.
type CRLFReader struct {
	r      io.Reader
	buf    []byte
	out    []byte // converted bytes not yet returned
	obuf   []byte // backs out; reused once out is drained
	prev   byte   // last source byte
	any    bool   // some source byte was seen
	srcEOF bool
	err    error
}

// NewCRLFReader converts r.
func NewCRLFReader(r io.Reader) *CRLFReader {
	return &CRLFReader{r: r, buf: make([]byte, 16<<10)}
}

func (c *CRLFReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.srcEOF {
			c.err = io.EOF
			if c.any && c.prev != '\n' {
				if c.prev == '\r' {
					c.out = []byte("\n")
				} else {
					c.out = []byte("\r\n")
				}
				c.prev = '\n'
				continue
			}
			return 0, io.EOF
		}
		n, err := c.r.Read(c.buf)
		if n > 0 {
			c.convert(c.buf[:n])
		}
		if err == io.EOF {
			c.srcEOF = true
		} else if err != nil {
			c.err = err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

func (c *CRLFReader) convert(b []byte) {
	out := c.obuf[:0]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i]...)
		if i == 0 && c.prev != '\r' || i > 0 && b[i-1] != '\r' {
			out = append(out, '\r')
		}
		out = append(out, '\n')
		b = b[i+1:]
		c.prev = '\n'
	}
	if len(out) > 0 {
		c.any = true
		c.prev = out[len(out)-1]
	}
	c.obuf, c.out = out, out
}

// TopReader passes the header block, the blank line that ends it, and the
// first n lines of the body of a CRLF stream, then reports EOF. A message
// without a blank line is all header and is passed whole.
type TopReader struct {
	r      io.Reader
	lines  int
	bol    bool
	lineCR bool // the current line so far is exactly "\r"
	body   bool
	done   bool
}

// NewTopReader limits r (CRLF line ends) to its headers and n body lines.
func NewTopReader(r io.Reader, n int) *TopReader {
	return &TopReader{r: r, lines: n, bol: true}
}

func (t *TopReader) Read(p []byte) (int, error) {
	if t.done {
		return 0, io.EOF
	}
	n, err := t.r.Read(p)
	for i := 0; i < n; i++ {
		b := p[i]
		switch {
		case !t.body:
			if b == '\n' && t.lineCR {
				t.body = true
				if t.lines == 0 {
					t.done = true
					return i + 1, nil
				}
			}
			t.lineCR = t.bol && b == '\r'
			t.bol = b == '\n'
		case b == '\n':
			t.lines--
			if t.lines == 0 {
				t.done = true
				return i + 1, nil
			}
		}
	}
	return n, err
}

// Served returns the bytes of [start, end) in r without the hidden spans
// (which lie inside it, in order).
func Served(r io.ReaderAt, start, end int64, hidden []Span) io.Reader {
	if len(hidden) == 0 {
		return io.NewSectionReader(r, start, end-start)
	}
	parts := make([]io.Reader, 0, len(hidden)+1)
	for _, h := range hidden {
		if h.Off > start {
			parts = append(parts, io.NewSectionReader(r, start, h.Off-start))
		}
		start = h.Off + h.Len
	}
	if end > start {
		parts = append(parts, io.NewSectionReader(r, start, end-start))
	}
	return io.MultiReader(parts...)
}
