package pop3

import (
	"bufio"
	"bytes"
	"io"
)

// DotReader reads a multi-line block and removes its dot-stuffing. It is
// byte-faithful: line endings pass through unchanged, and only a line that is
// exactly ".\r\n" ends the block (a bare ".\n" is data), so sizes cannot lie
// and no second message can be smuggled into one reply.
type DotReader struct {
	r     *bufio.Reader
	owner *Reader // when set, r is owner's buffer, handed back at the end of the block
	bol   bool    // at the beginning of a line
	eof   bool
	err   error
}

// NewDotReader reads a dot-stuffed block from r.
func NewDotReader(r *bufio.Reader) *DotReader { return &DotReader{r: r, bol: true} }

// Read implements io.Reader. It returns io.EOF after the terminating line and
// ErrUnexpectedEOF if the stream ends first.
func (d *DotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.eof {
			return n, io.EOF
		}
		if d.err != nil {
			return n, d.err
		}
		if d.r.Buffered() == 0 && n > 0 {
			// Hand over what we have rather than block on the network.
			return n, nil
		}
		if d.bol {
			b, err := d.r.Peek(1)
			if err != nil {
				d.fail(err)
				continue
			}
			if b[0] == '.' {
				b, err = d.r.Peek(3)
				if err != nil && len(b) < 3 {
					d.fail(err)
					continue
				}
				if b[1] == '\r' && b[2] == '\n' {
					d.r.Discard(3)
					d.eof = true
					if d.owner != nil && d.owner.r == d.r {
						// Nothing reads d.r after the end; an idle
						// connection should not keep the buffer.
						d.owner.releaseIfDrained()
						if d.owner.r == nil {
							d.r = nil
						}
					}
					continue
				}
				d.r.Discard(1) // the stuffed dot
			}
			d.bol = false
		}
		if _, err := d.r.Peek(1); err != nil {
			d.fail(err)
			continue
		}
		buf, _ := d.r.Peek(d.r.Buffered())
		if room := len(p) - n; len(buf) > room {
			buf = buf[:room]
		}
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i+1]
			d.bol = true
		}
		n += copy(p[n:], buf)
		d.r.Discard(len(buf))
	}
	return n, nil
}

func (d *DotReader) fail(err error) {
	if err == io.EOF {
		err = ErrUnexpectedEOF
	}
	d.err = err
}

// Close reads and discards the rest of the block, so that the connection is
// positioned on the next status line.
func (d *DotReader) Close() error {
	_, err := io.Copy(io.Discard, d)
	return err
}

// DotWriter writes a multi-line block: it stuffs lines that begin with a dot,
// turns a bare LF into CRLF, ends the data with CRLF if it lacks one, and
// writes the terminating ".\r\n" on Close. Sizes reported by LIST and STAT
// count the bytes in this form.
type DotWriter struct {
	w      *bufio.Writer
	owner  *Writer // when set, w is owner's current buffer, borrowed anew after each Flush
	bol    bool
	prevCR bool
	n      int64
}

// NewDotWriter writes a dot-stuffed block to w.
func NewDotWriter(w *bufio.Writer) *DotWriter { return &DotWriter{w: w, bol: true} }

// Write implements io.Writer. The count returned is of input bytes.
func (d *DotWriter) Write(p []byte) (int, error) {
	d.borrow()
	rest := p
	for len(rest) > 0 {
		if d.bol && rest[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return len(p) - len(rest), err
			}
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if _, err := d.w.Write(rest); err != nil {
				return len(p) - len(rest), err
			}
			d.bol = false
			d.prevCR = rest[len(rest)-1] == '\r'
			break
		}
		crlf := i > 0 && rest[i-1] == '\r' || i == 0 && d.prevCR
		if crlf {
			_, err := d.w.Write(rest[:i+1])
			if err != nil {
				return len(p) - len(rest), err
			}
		} else {
			d.w.Write(rest[:i])
			if _, err := d.w.WriteString("\r\n"); err != nil {
				return len(p) - len(rest), err
			}
		}
		d.bol, d.prevCR = true, false
		rest = rest[i+1:]
	}
	d.n += int64(len(p))
	return len(p), nil
}

// borrow points w at the owner's buffer, which a Flush may have returned.
func (d *DotWriter) borrow() {
	if d.owner != nil {
		d.w = d.owner.buf()
	}
}

// Close ends the block. It does not flush the underlying writer.
func (d *DotWriter) Close() error {
	d.borrow()
	if !d.bol {
		if d.prevCR {
			if err := d.w.WriteByte('\n'); err != nil {
				return err
			}
		} else if _, err := d.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// Len returns the number of input bytes written so far.
func (d *DotWriter) Len() int64 { return d.n }

// WireSize returns the size of data once CRLF-normalised the way DotWriter
// writes it (before stuffing), which is the size LIST must report.
func WireSize(data []byte) int64 {
	var n int64
	prevCR := false
	for _, c := range data {
		if c == '\n' && !prevCR {
			n++
		}
		n++
		prevCR = c == '\r'
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		if prevCR {
			n++
		} else {
			n += 2
		}
	}
	return n
}
