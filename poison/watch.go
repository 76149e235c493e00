package poison

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/mail"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
)

// maxHeader is how much of a message's head is kept to name it in the
// warning.
const maxHeader = 16 << 10

// Decorate implements session.Decorator. Only an Action that holds
// messages needs the user's breaks before the first command: otherwise
// they are read at the end of the session, and only when there is
// something to count or clear, so that a login costs no store read here.
func (d *Decorator) Decorate(ctx context.Context, s *session.Info, m pop3.Mailbox) pop3.Mailbox {
	if d.o.Limit <= 0 || d.o.Store == nil {
		return m
	}
	w := &watch{Mailbox: m, o: &d.o, ctx: ctx, user: s.User, backend: s.Backend}
	if s.Client != nil {
		w.client = s.Client.String()
	}
	if d.o.holds() {
		b, err := d.o.Store.Breaks(ctx, s.User)
		if err != nil {
			d.o.logger().Warn("poison: reading the user's broken transfers", zap.String("user", s.User), zap.Error(err))
			return m
		}
		w.breaks, w.read = b, true
	}
	return w
}

// watch is one session's Mailbox seen by the Decorator.
type watch struct {
	pop3.Mailbox
	o                     *Options
	ctx                   context.Context
	user, backend, client string
	breaks                store.Breaks
	read                  bool // breaks was read at the start of the session

	// head is the start of the last message sent, lastNum its number and
	// lastSize its size when the backend announced it (else -1). Nothing
	// more is kept: a session may list thousands of messages.
	head     bytes.Buffer
	lastNum  int
	lastSize int64

	// held maps the numbers of flagged messages to their listing, once
	// heldResolved; only with an Action that holds.
	held         map[int]pop3.MsgInfo
	heldResolved bool
	notice       map[int][]byte // Action replace: what is served instead
}

var (
	_ pop3.Mailbox     = (*watch)(nil)
	_ pop3.Capabler    = (*watch)(nil)
	_ session.Reporter = (*watch)(nil)
)

// Caps passes on the wrapped Mailbox's capabilities.
func (w *watch) Caps() []string { return pop3.CapsOf(w.Mailbox) }

// resolveHeld finds the numbers of the user's flagged messages in this
// maildrop: one full listing, only for users with something held.
func (w *watch) resolveHeld(ctx context.Context) error {
	if w.heldResolved || !w.o.holds() || len(w.breaks.Poison) == 0 {
		return nil
	}
	ids, err := w.Mailbox.Uidl(ctx, 0)
	if err != nil {
		return err
	}
	list, err := w.Mailbox.List(ctx, 0)
	if err != nil {
		return err
	}
	sizes := make(map[int]int64, len(list))
	for _, mi := range list {
		sizes[mi.Num] = mi.Size
	}
	w.held = map[int]pop3.MsgInfo{}
	for _, mi := range ids {
		if w.breaks.IsPoison(mi.UID) {
			mi.Size = sizes[mi.Num]
			w.held[mi.Num] = mi
		}
	}
	if w.o.Action == ActionReplace {
		w.notice = map[int][]byte{}
		for n, mi := range w.held {
			w.notice[n] = w.o.noticeFor(w.breaks, mi)
		}
	}
	w.heldResolved = true
	return nil
}

// Stat implements pop3.Mailbox without held messages (skip) or with their
// notices' sizes (replace).
func (w *watch) Stat(ctx context.Context) (int, int64, error) {
	n, size, err := w.Mailbox.Stat(ctx)
	if err != nil {
		return n, size, err
	}
	if err := w.resolveHeld(ctx); err != nil {
		return 0, 0, err
	}
	for num, mi := range w.held {
		size -= mi.Size
		if w.o.Action == ActionSkip {
			n--
		} else {
			size += int64(len(w.notice[num]))
		}
	}
	return n, size, nil
}

// List implements pop3.Mailbox.
func (w *watch) List(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	return w.listing(ctx, n, w.Mailbox.List)
}

// Uidl implements pop3.Mailbox.
func (w *watch) Uidl(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	return w.listing(ctx, n, w.Mailbox.Uidl)
}

// listing calls list and takes the held messages out, or shows their
// notices.
func (w *watch) listing(ctx context.Context, n int, list func(context.Context, int) ([]pop3.MsgInfo, error)) ([]pop3.MsgInfo, error) {
	out, err := list(ctx, n)
	if err != nil {
		return nil, err
	}
	if err := w.resolveHeld(ctx); err != nil {
		return nil, err
	}
	if len(w.held) == 0 {
		return out, nil
	}
	if w.o.Action == ActionSkip {
		if _, ok := w.held[n]; ok && n > 0 {
			return nil, pop3.ErrNoSuchMessage
		}
		return slices.DeleteFunc(out, func(mi pop3.MsgInfo) bool { _, ok := w.held[mi.Num]; return ok }), nil
	}
	for i, mi := range out {
		if h, ok := w.held[mi.Num]; ok {
			out[i].Size = int64(len(w.notice[mi.Num]))
			out[i].UID = heldUIDL(h.UID)
		}
	}
	return out, nil
}

// heldAnswer reports whether message n is held, and what to answer for it.
func (w *watch) heldAnswer(ctx context.Context, n int) (held bool, body []byte, err error) {
	if err := w.resolveHeld(ctx); err != nil {
		return false, nil, err
	}
	if _, ok := w.held[n]; !ok {
		return false, nil, nil
	}
	if w.o.Action == ActionSkip {
		return true, nil, pop3.ErrNoSuchMessage
	}
	return true, w.notice[n], nil
}

// Retr implements pop3.Mailbox, keeping the head of the message sent.
func (w *watch) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	return w.message(ctx, n, func() (io.ReadCloser, error) { return w.Mailbox.Retr(ctx, n) })
}

// Top implements pop3.Mailbox like Retr: fetchmail downloads with TOP.
func (w *watch) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	return w.message(ctx, n, func() (io.ReadCloser, error) { return w.Mailbox.Top(ctx, n, lines) })
}

func (w *watch) message(ctx context.Context, n int, open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	if held, body, err := w.heldAnswer(ctx, n); held || err != nil {
		if err != nil {
			return nil, err
		}
		return noticeReader{bytes.NewReader(body)}, nil
	}
	rc, err := open()
	if err != nil {
		return nil, err
	}
	w.lastNum, w.lastSize = n, -1
	w.head.Reset()
	if sz, ok := rc.(pop3.Sizer); ok {
		w.lastSize = sz.Size()
	}
	return pop3.KeepSize(&headTap{ReadCloser: rc, head: &w.head}, rc), nil
}

// Dele implements pop3.Mailbox. A held message is never deleted through
// a client: skip says it does not exist, replace deletes only the notice.
func (w *watch) Dele(ctx context.Context, n int) error {
	if held, _, err := w.heldAnswer(ctx, n); held || err != nil {
		return err
	}
	return w.Mailbox.Dele(ctx, n)
}

// noticeReader serves a notice with its size, as RETR announces it.
type noticeReader struct{ *bytes.Reader }

func (noticeReader) Close() error  { return nil }
func (r noticeReader) Size() int64 { return r.Reader.Size() }

// headTap copies the first bytes of a message, up to the end of its
// header or maxHeader, into head.
type headTap struct {
	io.ReadCloser
	head *bytes.Buffer
	done bool
}

func (t *headTap) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if !t.done && n > 0 {
		t.head.Write(p[:min(n, maxHeader-t.head.Len())])
		t.done = t.head.Len() >= maxHeader || bytes.Contains(t.head.Bytes(), []byte("\r\n\r\n"))
	}
	return n, err
}

// headerFields returns the Message-ID and decoded Subject of a message
// head, as far as it goes.
func headerFields(head []byte) (msgID, subject string) {
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i+2]
	}
	m, err := mail.ReadMessage(io.MultiReader(bytes.NewReader(head), strings.NewReader("\r\n")))
	if err != nil {
		return "", ""
	}
	subject = m.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = dec
	}
	return strings.TrimSpace(m.Header.Get("Message-Id")), subject
}
