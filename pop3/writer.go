package pop3

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// writeBufferSize holds a typical whole response, so that a status line and
// a short block leave in one write. Buffers are only lent from the first
// byte of a response to its Flush, so the size costs an idle session nothing.
const writeBufferSize = 32 << 10

// Writer writes POP3 responses. Nothing reaches the connection until Flush,
// so a status line and its block go out together. Between responses it
// holds no buffer.
type Writer struct {
	dst io.Writer
	w   *bufio.Writer // borrowed from writeBuffers; nil when nothing is pending
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{dst: w} }

// buf returns the buffer, borrowing one if the Writer has none.
func (w *Writer) buf() *bufio.Writer {
	if w.w == nil {
		w.w = writeBuffers.get()
		w.w.Reset(w.dst)
	}
	return w.w
}

// Reset discards unflushed data and writes to w from now on.
func (w *Writer) Reset(wr io.Writer) {
	w.dst = wr
	if w.w != nil {
		w.release()
	}
}

// release hands the buffer back. Its contents are dropped.
func (w *Writer) release() {
	w.w.Reset(nil)
	writeBuffers.put(w.w)
	w.w = nil
}

// Line writes s followed by CRLF.
func (w *Writer) Line(s string) error {
	b := w.buf()
	b.WriteString(s)
	_, err := b.WriteString("\r\n")
	return err
}

// OK writes "+OK text".
func (w *Writer) OK(text string) error {
	return w.Response(Response{OK: true, Text: text})
}

// Response writes one status line. It is formatted in the buffer's free
// space, so a reply costs no string of its own.
func (w *Writer) Response(r Response) error {
	b := w.buf()
	b.Write(r.appendTo(b.AvailableBuffer()))
	_, err := b.WriteString("\r\n")
	return err
}

// Item writes one line of a LIST listing ("n size") or, with uid, of a
// UIDL listing ("n unique-id"), formatted in the buffer: a listing of many
// messages costs no string per line.
func (w *Writer) Item(mi MsgInfo, uid bool) error {
	b := w.buf()
	b.Write(mi.appendItem(b.AvailableBuffer(), uid))
	_, err := b.WriteString("\r\n")
	return err
}

// appendItem appends mi's LIST or UIDL line without CRLF to b.
func (mi MsgInfo) appendItem(b []byte, uid bool) []byte {
	b = append(strconv.AppendInt(b, int64(mi.Num), 10), ' ')
	if uid {
		return append(b, mi.UID...)
	}
	return strconv.AppendInt(b, mi.Size, 10)
}

// ItemOK writes the +OK reply to LIST or UIDL for a single message.
func (w *Writer) ItemOK(mi MsgInfo, uid bool) error {
	return w.OK(string(mi.appendItem(nil, uid)))
}

// Error writes the -ERR reply for err. An *Error is sent with its code and
// text; any other error is reported as an internal error, so that no internal
// detail reaches the client.
func (w *Writer) Error(err error) error {
	var pe *Error
	if !errors.As(err, &pe) {
		pe = ErrInternal
	}
	return w.Response(Response{Code: pe.Code, Text: pe.Text})
}

// DotWriter starts a multi-line block after a status line. It writes
// through w, so it stays valid across a Flush in the middle of the block.
func (w *Writer) DotWriter() *DotWriter { return &DotWriter{owner: w, bol: true} }

// Flush sends everything written so far. Once it succeeds the Writer holds
// no buffer until the next response; after a failure it keeps the error,
// and every later write returns it.
func (w *Writer) Flush() error {
	if w.w == nil {
		return nil
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	w.release()
	return nil
}
