package pop3

import (
	"bufio"
	"errors"
	"io"
)

// writeBufferSize holds a typical whole response, so that a status line and
// a short block leave in one write.
const writeBufferSize = 16 << 10

// Writer writes POP3 responses. Nothing reaches the connection until Flush,
// so a status line and its block go out together.
type Writer struct {
	w *bufio.Writer
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, writeBufferSize)}
}

// Reset discards unflushed data and writes to w from now on.
func (w *Writer) Reset(wr io.Writer) { w.w.Reset(wr) }

// Line writes s followed by CRLF.
func (w *Writer) Line(s string) error {
	w.w.WriteString(s)
	_, err := w.w.WriteString("\r\n")
	return err
}

// OK writes "+OK text".
func (w *Writer) OK(text string) error {
	return w.Response(Response{OK: true, Text: text})
}

// Response writes one status line.
func (w *Writer) Response(r Response) error { return w.Line(r.String()) }

// Error writes the -ERR reply for err. An *Error is sent with its code and
// text; any other error is reported as an internal error, so that no internal
// detail reaches the client. It returns the *Error that was sent.
func (w *Writer) Error(err error) (*Error, error) {
	var pe *Error
	if !errors.As(err, &pe) {
		pe = ErrInternal
	}
	return pe, w.Response(Response{Code: pe.Code, Text: pe.Text})
}

// DotWriter starts a multi-line block after a status line.
func (w *Writer) DotWriter() *DotWriter { return NewDotWriter(w.w) }

// Flush sends everything written so far.
func (w *Writer) Flush() error { return w.w.Flush() }

// Buffer exposes the underlying buffered writer, for writing pre-formatted
// blocks without another copy.
func (w *Writer) Buffer() *bufio.Writer { return w.w }
