package backend

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/pop3"
)

// drop is one store's view of an open maildrop: a snapshot of its messages
// taken at Open.
type drop interface {
	count() int
	size(i int) int64
	uid(i int) string // before duplicates are renamed
	// source is the index value the snapshot was taken from, which is
	// never modified, or nil when there is none to key a listing by.
	source() any
	// open streams message i as raw bytes (the store's line ends).
	open(i int) (io.ReadCloser, error)
	// commit deletes the marked messages, keeping anything delivered since
	// Open, and returns what is left.
	commit(ctx context.Context, deleted, retrieved []bool) (left int, leftBytes int64, err error)
	// release frees the drop without changing it.
	release() error
}

// mailbox implements pop3.Mailbox over a drop.
type mailbox struct {
	b         *Backend
	user      string
	path      string
	d         drop
	l         *listing // shared with other sessions: read only
	ndeleted  int
	deleted   []bool
	retrieved []bool
	once      sync.Once
	done      func()
}

func newMailbox(b *Backend, user, path string, d drop, done func()) *mailbox {
	n := d.count()
	return &mailbox{b: b, user: user, path: path, d: d, done: done,
		l: b.listings.get(path, d.source(), d), deleted: make([]bool, n), retrieved: make([]bool, n)}
}

// msg maps a message number to an index, refusing deleted ones.
func (m *mailbox) msg(n int) (int, error) {
	if n < 1 || n > len(m.l.infos) {
		return 0, pop3.ErrNoSuchMessage
	}
	if m.deleted[n-1] {
		return 0, pop3.ErrMessageDeleted
	}
	return n - 1, nil
}

func (m *mailbox) Stat(ctx context.Context) (int, int64, error) {
	if m.ndeleted == 0 {
		return len(m.l.infos), m.l.size, nil
	}
	var n int
	var size int64
	for i, del := range m.deleted {
		if !del {
			n++
			size += m.l.infos[i].Size
		}
	}
	return n, size, nil
}

func (m *mailbox) list(n int, withUID bool) ([]pop3.MsgInfo, error) {
	info := func(i int) pop3.MsgInfo {
		mi := m.l.infos[i]
		if !withUID {
			mi.UID = ""
		}
		return mi
	}
	if n > 0 {
		i, err := m.msg(n)
		if err != nil {
			return nil, err
		}
		return []pop3.MsgInfo{info(i)}, nil
	}
	if m.ndeleted == 0 && withUID {
		// A copy: callers further out may edit the listing they get.
		return slices.Clone(m.l.infos), nil
	}
	out := make([]pop3.MsgInfo, 0, len(m.l.infos)-m.ndeleted)
	for i, del := range m.deleted {
		if !del {
			out = append(out, info(i))
		}
	}
	return out, nil
}

func (m *mailbox) List(ctx context.Context, n int) ([]pop3.MsgInfo, error) { return m.list(n, false) }
func (m *mailbox) Uidl(ctx context.Context, n int) ([]pop3.MsgInfo, error) { return m.list(n, true) }

func (m *mailbox) open(n int) (io.ReadCloser, error) {
	i, err := m.msg(n)
	if err != nil {
		return nil, err
	}
	rc, err := m.d.open(i)
	if err != nil {
		return nil, m.b.storeError(textChanged, m.user, fmt.Errorf("retr %d from %s: %w", n, m.path, err))
	}
	m.retrieved[i] = true
	return rc, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (m *mailbox) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	rc, err := m.open(n)
	if err != nil {
		return nil, err
	}
	return readCloser{mbox.NewCRLFReader(rc), rc}, nil
}

func (m *mailbox) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	rc, err := m.open(n)
	if err != nil {
		return nil, err
	}
	return readCloser{mbox.NewTopReader(mbox.NewCRLFReader(rc), max(lines, 0)), rc}, nil
}

func (m *mailbox) Dele(ctx context.Context, n int) error {
	i, err := m.msg(n)
	if err != nil {
		return err
	}
	if !m.deleted[i] {
		m.deleted[i], m.ndeleted = true, m.ndeleted+1
	}
	return nil
}

func (m *mailbox) Rset(ctx context.Context) error {
	clear(m.deleted)
	m.ndeleted = 0
	return nil
}

func (m *mailbox) Noop(ctx context.Context) error { return nil }

// Status gives popa3d's status lines (pop3.StatusRelayer), so that users
// moved from popa3d see the same wire: a bare +OK to the login, LIST, UIDL,
// TOP, DELE, NOOP, RSET and QUIT. RETR keeps popgate's "N octets", which
// clients show progress from; STAT and single-message LIST and UIDL lines
// carry only their values, as popa3d's do.
func (m *mailbox) Status(cmd string) (pop3.Response, bool) {
	return pop3.Response{OK: true}, popa3dBare[cmd]
}

// popa3dBare are the commands popa3d answers with a bare +OK.
var popa3dBare = map[string]bool{
	"LOGIN": true, "LIST": true, "UIDL": true, "TOP": true,
	"DELE": true, "NOOP": true, "RSET": true, "QUIT": true,
}

func (m *mailbox) Update(ctx context.Context) (pop3.UpdateResult, error) {
	var r pop3.UpdateResult
	for i, del := range m.deleted {
		if del {
			r.DeletedMsgs++
			r.DeletedBytes += m.l.infos[i].Size
		}
	}
	left, leftBytes, err := m.d.commit(ctx, m.deleted, m.retrieved)
	m.Close() // the maildrop is released whether or not the commit worked
	if err != nil {
		return pop3.UpdateResult{}, m.b.storeError(textUpdate, m.user, fmt.Errorf("update %s: %w", m.path, err))
	}
	r.LeftMsgs, r.LeftBytes = left, leftBytes
	return r, nil
}

func (m *mailbox) Close() error {
	var err error
	m.once.Do(func() {
		err = m.d.release()
		m.done()
	})
	return err
}
