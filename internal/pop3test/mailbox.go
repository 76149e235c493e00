package pop3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/popgate/popgate/pop3"
)

// Mailbox is an in-memory pop3.Mailbox. Its exported knobs must be set before
// the Mailbox is handed to the code under test; the recorded calls may be
// read at any time.
type Mailbox struct {
	// Messages are the message bodies, CRLF line ends, unstuffed.
	Messages [][]byte
	// UIDs are the unique-ids; when shorter than Messages the rest are "uid<n>".
	UIDs []string
	// Errors injects a failure into the named method ("Stat", "Retr", ...).
	Errors map[string]error
	// Panics makes the named method panic.
	Panics map[string]bool
	// BodyErr makes the body of Retr and Top fail after BodyErrAfter bytes.
	BodyErr      error
	BodyErrAfter int
	// ReadDelay sleeps before every body Read (a slow backend).
	ReadDelay time.Duration

	mu      sync.Mutex
	deleted map[int]bool
	calls   []string
	updated bool
	closed  bool
}

var _ pop3.Mailbox = (*Mailbox)(nil)

// NewMailbox returns a Mailbox holding msgs.
func NewMailbox(msgs ...string) *Mailbox {
	m := &Mailbox{}
	for _, s := range msgs {
		m.Messages = append(m.Messages, []byte(s))
	}
	return m
}

// Calls returns the methods called so far, in order.
func (m *Mailbox) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.calls...)
}

// Updated reports whether Update was called.
func (m *Mailbox) Updated() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.updated
}

// Closed reports whether Close was called.
func (m *Mailbox) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// enter records a call and applies the injected panic or error.
func (m *Mailbox) enter(name string) error {
	m.mu.Lock()
	m.calls = append(m.calls, name)
	if m.deleted == nil {
		m.deleted = map[int]bool{}
	}
	m.mu.Unlock()
	if m.Panics[name] {
		panic("pop3test: injected panic in " + name)
	}
	return m.Errors[name]
}

func (m *Mailbox) uid(i int) string {
	if i < len(m.UIDs) {
		return m.UIDs[i]
	}
	return fmt.Sprintf("uid%d", i+1)
}

// message returns message n if it exists and is not deleted. Callers hold mu.
func (m *Mailbox) message(n int) ([]byte, error) {
	if n < 1 || n > len(m.Messages) {
		return nil, pop3.ErrNoSuchMessage
	}
	if m.deleted[n] {
		return nil, pop3.ErrMessageDeleted
	}
	return m.Messages[n-1], nil
}

func (m *Mailbox) Stat(ctx context.Context) (int, int64, error) {
	if err := m.enter("Stat"); err != nil {
		return 0, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int
	var size int64
	for i, b := range m.Messages {
		if !m.deleted[i+1] {
			n++
			size += pop3.WireSize(b)
		}
	}
	return n, size, nil
}

func (m *Mailbox) infos(n int, withUID bool) ([]pop3.MsgInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []pop3.MsgInfo
	for i, b := range m.Messages {
		num := i + 1
		if m.deleted[num] || (n > 0 && n != num) {
			continue
		}
		mi := pop3.MsgInfo{Num: num, Size: pop3.WireSize(b)}
		if withUID {
			mi.UID = m.uid(i)
		}
		out = append(out, mi)
	}
	if n > 0 {
		if _, err := m.message(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Mailbox) List(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	if err := m.enter("List"); err != nil {
		return nil, err
	}
	return m.infos(n, false)
}

func (m *Mailbox) Uidl(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	if err := m.enter("Uidl"); err != nil {
		return nil, err
	}
	return m.infos(n, true)
}

func (m *Mailbox) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	b, err := m.fetch("Retr", n)
	if err != nil {
		return nil, err
	}
	return m.body(b), nil
}

func (m *Mailbox) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	b, err := m.fetch("Top", n)
	if err != nil {
		return nil, err
	}
	return m.body(top(b, lines)), nil
}

// fetch records the call name and returns message n.
func (m *Mailbox) fetch(name string, n int) ([]byte, error) {
	if err := m.enter(name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.message(n)
}

// top cuts b after the blank line ending the headers plus lines body lines.
func top(b []byte, lines int) []byte {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return b
	}
	i := end + 4
	for ; lines > 0 && i < len(b); lines-- {
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return b
		}
		i += nl + 1
	}
	return b[:i]
}

func (m *Mailbox) body(b []byte) io.ReadCloser {
	return &body{r: bytes.NewReader(b), m: m, size: pop3.WireSize(b)}
}

// body is a message reader with the Mailbox's failure knobs applied. Size
// lets the proxy announce the octet count.
type body struct {
	r    *bytes.Reader
	m    *Mailbox
	read int
	size int64
}

func (b *body) Read(p []byte) (int, error) {
	if b.m.ReadDelay > 0 {
		time.Sleep(b.m.ReadDelay)
	}
	if b.m.BodyErr != nil {
		room := b.m.BodyErrAfter - b.read
		if room <= 0 {
			return 0, b.m.BodyErr
		}
		if len(p) > room {
			p = p[:room]
		}
	}
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *body) Close() error { return nil }

// Size returns the body's length as sent: CRLF line ends, final CRLF.
func (b *body) Size() int64 { return b.size }

func (m *Mailbox) Dele(ctx context.Context, n int) error {
	if err := m.enter("Dele"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.message(n); err != nil {
		return err
	}
	m.deleted[n] = true
	return nil
}

func (m *Mailbox) Rset(ctx context.Context) error {
	if err := m.enter("Rset"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleted = map[int]bool{}
	return nil
}

func (m *Mailbox) Noop(ctx context.Context) error { return m.enter("Noop") }

func (m *Mailbox) Update(ctx context.Context) (pop3.UpdateResult, error) {
	if err := m.enter("Update"); err != nil {
		return pop3.UpdateResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updated = true
	var r pop3.UpdateResult
	for i, b := range m.Messages {
		if m.deleted[i+1] {
			r.DeletedMsgs++
			r.DeletedBytes += pop3.WireSize(b)
		} else {
			r.LeftMsgs++
			r.LeftBytes += pop3.WireSize(b)
		}
	}
	return r, nil
}

func (m *Mailbox) Close() error {
	err := m.enter("Close")
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return err
}
