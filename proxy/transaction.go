package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// mailboxError answers a failed Mailbox call. Failures of the backend itself
// (anything but a plain -ERR such as "no such message") are kept for the
// session line.
func (s *clientSession) mailboxError(op string, err error) {
	s.reply(err)
	var pe *pop3.Error
	if errors.As(err, &pe) && (pe.Code == pop3.CodeNone || pe.Code == pop3.CodeAuth) {
		return
	}
	s.setResult(session.ResultBackendError, s.cause(fmt.Errorf("%s: %w", op, err)))
}

// okRelayed answers +OK to cmd with the relayed server's own status line
// when there is one, so the wire matches direct access, else with text.
func (s *clientSession) okRelayed(cmd, text string) {
	if r, ok := pop3.StatusOf(s.layers[0], cmd); ok && printable(r.Text) {
		s.w.Response(r)
		return
	}
	s.w.OK(text)
}

// printable reports text a client can be shown as is.
func printable(text string) bool {
	for i := 0; i < len(text); i++ {
		if c := text[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// msgCmd checks that c has n arguments, the first a message number, and
// returns that number.
func (s *clientSession) msgCmd(c pop3.Command, n int) (int, bool) {
	if !s.args(c, n) {
		return 0, false
	}
	return s.msgArg(c, 0)
}

// opName names c in a session line's cause; it is built only on failure,
// not for every RETR.
func opName(c pop3.Command) string { return strings.ToLower(c.String()) }

// msgArg parses argument i as a message number.
func (s *clientSession) msgArg(c pop3.Command, i int) (int, bool) {
	n, ok := pop3.MsgNum(c.Args[i])
	if !ok {
		s.done = !s.protocolError(&pop3.Error{Text: "invalid message number"}, "bad message number to "+c.Name)
	}
	return n, ok
}

func (s *clientSession) stat(c pop3.Command) {
	if !s.args(c, 0) {
		return
	}
	n, size, err := s.mbox.Stat(s.ctx)
	if err != nil {
		s.mailboxError("stat", err)
		return
	}
	s.w.OK(fmt.Sprintf("%d %d", n, size))
}

func (s *clientSession) list(c pop3.Command) { s.listing(c, false) }
func (s *clientSession) uidl(c pop3.Command) { s.listing(c, true) }

// listing serves LIST and UIDL, with or without a message number.
func (s *clientSession) listing(c pop3.Command, uids bool) {
	if len(c.Args) > 1 {
		s.syntaxError(c)
		return
	}
	n := 0
	if len(c.Args) == 1 {
		var ok bool
		if n, ok = s.msgArg(c, 0); !ok {
			return
		}
	}
	call, op := s.mbox.List, "list"
	if uids {
		call, op = s.mbox.Uidl, "uidl"
	}
	infos, err := call(s.ctx, n)
	if err != nil {
		s.mailboxError(op, err)
		return
	}
	if n > 0 {
		if len(infos) != 1 || infos[0].Num != n {
			s.reply(pop3.ErrNoSuchMessage)
			return
		}
		s.w.ItemOK(infos[0], uids)
		return
	}
	s.okRelayed(c.Name, strconv.Itoa(len(infos))+" messages")
	for _, mi := range infos {
		s.w.Item(mi, uids)
	}
	s.w.Line(".")
}

func (s *clientSession) retr(c pop3.Command) {
	n, ok := s.msgCmd(c, 1)
	if ok && s.message(c, n, s.mbox.Retr) {
		s.last = max(s.last, n)
	}
}

func (s *clientSession) top(c pop3.Command) {
	n, ok := s.msgCmd(c, 2)
	if !ok {
		return
	}
	lines, ok := pop3.Count(c.Args[1])
	if !ok {
		s.syntaxError(c)
		return
	}
	s.message(c, n, func(ctx context.Context, n int) (io.ReadCloser, error) {
		return s.mbox.Top(ctx, n, lines)
	})
}

// message opens message n with open and streams it to the client,
// reporting whether it was sent whole.
func (s *clientSession) message(c pop3.Command, n int, open func(context.Context, int) (io.ReadCloser, error)) bool {
	rc, err := open(s.ctx, n)
	if err != nil {
		s.mailboxError(opName(c), err)
		return false
	}
	return s.sendBody(rc, c, n)
}

// readErrRecorder remembers a read error, to tell a failing backend from a
// client that went away while a message streams.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (r *readErrRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// copyBuffers lend sendBody a buffer for one message, so that a session
// holds none while it waits for its next command.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// sendBody streams a message as a multi-line reply. The buffered writer
// flushes as it fills, so a large message never sits in memory. A failure
// halfway cannot be reported to the client, so it ends the session.
func (s *clientSession) sendBody(rc io.ReadCloser, c pop3.Command, n int) bool {
	defer rc.Close()
	status := "message follows"
	if sz, ok := rc.(pop3.Sizer); ok {
		status = strconv.FormatInt(sz.Size(), 10) + " octets"
	}
	s.okRelayed(c.Name, status)
	dw := s.w.DotWriter()
	src := &readErrRecorder{r: rc}
	buf := copyBuffers.Get().(*[]byte)
	_, err := io.CopyBuffer(dw, src, *buf)
	copyBuffers.Put(buf)
	if err == nil {
		err = dw.Close()
	}
	sent := session.BrokenTransfer{Num: n, Bytes: dw.Len()}
	if err != nil || src.err != nil {
		s.rec.Broken = &sent
	}
	switch {
	case src.err != nil:
		s.setResult(session.ResultBackendError, s.cause(fmt.Errorf("%s: message body: %w", opName(c), src.err)))
		s.done = true
		return false
	case err != nil:
		s.setResult(session.ResultClientGone, s.cause(fmt.Errorf("%s: write to client: %w", opName(c), err)))
		s.done = true
		return false
	}
	s.unread = sent
	return true
}

// confirmSent counts the message last sent as retrieved: the client has
// read it, as it sent a command or closed the connection cleanly after it.
// Its bytes may still sit in socket buffers when the dot is written, so a
// client that resets the connection instead has not read it all.
func (s *clientSession) confirmSent() {
	if s.unread.Num == 0 {
		return
	}
	s.rec.RetrMsgs++
	s.rec.RetrBytes += s.unread.Bytes
	s.unread = session.BrokenTransfer{}
}

func (s *clientSession) dele(c pop3.Command) {
	n, ok := s.msgCmd(c, 1)
	if !ok {
		return
	}
	if err := s.mbox.Dele(s.ctx, n); err != nil {
		s.mailboxError(opName(c), err)
		return
	}
	s.okRelayed(c.Name, "message "+c.Args[0]+" deleted")
}

func (s *clientSession) noop(c pop3.Command) {
	if !s.args(c, 0) {
		return
	}
	if err := s.mbox.Noop(s.ctx); err != nil {
		s.mailboxError("noop", err)
		return
	}
	s.okRelayed(c.Name, "")
}

func (s *clientSession) rset(c pop3.Command) {
	if !s.args(c, 0) {
		return
	}
	if err := s.mbox.Rset(s.ctx); err != nil {
		s.mailboxError("rset", err)
		return
	}
	s.last = 0
	s.okRelayed(c.Name, "")
}

// lastCmd emulates LAST (RFC 1725): the highest message number retrieved
// by RETR in this session, 0 after RSET. Old clients use it to skip
// messages they already have.
func (s *clientSession) lastCmd(c pop3.Command) {
	if !s.args(c, 0) {
		return
	}
	s.w.OK(strconv.Itoa(s.last))
}

// quitTransaction enters the UPDATE state (RFC 1939 section 6).
func (s *clientSession) quitTransaction(c pop3.Command) {
	s.done = true
	m := s.mbox
	s.mbox = nil // released by Update, whatever its outcome
	res, err := m.Update(s.ctx)
	if err != nil {
		closeQuietly(m)
		var pe *pop3.Error
		if !errors.As(err, &pe) || pe.Code == pop3.CodeNone {
			pe = &pop3.Error{Code: pop3.CodeSysTemp, Text: "deletions not committed"}
		}
		s.reply(pe)
		s.setResult(session.ResultBackendError, s.cause(fmt.Errorf("update, deletions not committed: %w", err)))
		return
	}
	s.rec.DeletedMsgs, s.rec.DeletedBytes = res.DeletedMsgs, res.DeletedBytes
	s.rec.LeftMsgs, s.rec.LeftBytes = res.LeftMsgs, res.LeftBytes
	s.okRelayed(c.Name, fmt.Sprintf("bye (%d messages left)", res.LeftMsgs))
}
