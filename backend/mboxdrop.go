package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/backend/mbox"
)

// An mbox maildrop is read under the spool lock at Open, then served from
// that snapshot without holding the lock, so delivery goes on during the
// session; the session lock keeps other POP sessions out. UPDATE takes the
// spool lock again, re-reads the file (usually only what was appended), and
// compacts it in place without the deleted messages. Both first finish a
// compaction that a crash interrupted (mbox.Recover).
type mboxDrop struct {
	b    *Backend
	path string
	f    *os.File // nil when the file does not exist: an empty maildrop
	idx  *mbox.Index
}

const openFlags = os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

func (b *Backend) openMbox(ctx context.Context, path string) (*mboxDrop, error) {
	d := &mboxDrop{b: b, path: path, idx: &mbox.Index{}}
	if err := b.repairFirst(ctx, path); err != nil {
		return nil, err
	}
	f, l, err := lock.OpenSpool(ctx, path, openFlags, b.opts.LockTimeout)
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil // like popa3d: no spool file is no mail
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		l.Release()
		f.Close()
		return nil, fmt.Errorf("open %s: not a regular file", path)
	}
	idx, err := b.recoverAndLoad(path, f)
	if rerr := l.Release(); err == nil && rerr != nil {
		err = fmt.Errorf("unlock %s: %w", path, rerr)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	d.f, d.idx = f, idx
	return d, nil
}

// repairFirst finishes an interrupted rewrite of path under the dotlock
// alone. After a crash the fcntl lock is free, and an agent that locks fcntl
// first (dovecot-lda) may hold it while it waits for the dotlock; taking
// both would mean giving the dotlock back, and that agent would then rewrite
// the half-compacted spool before the repair. Every agent that honours the
// dotlock stays out while it is held.
func (b *Backend) repairFirst(ctx context.Context, path string) error {
	if _, err := os.Lstat(mbox.JournalPath(path)); err != nil {
		return nil // no journal: nothing to repair (or a repair under the full lock will say why)
	}
	l, err := lock.AcquireSpool(ctx, path, nil, b.opts.LockTimeout)
	if err != nil {
		return err
	}
	defer l.Release()
	f, err := os.OpenFile(path, openFlags, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recover %s: %w", path, err)
	}
	defer f.Close()
	if _, err := mbox.Recover(f, mbox.JournalPath(path)); err != nil {
		return fmt.Errorf("recover %s: %w", path, err)
	}
	return nil
}

// recoverAndLoad finishes an interrupted rewrite of path, then brings its
// index up to date; the caller holds the spool lock.
func (b *Backend) recoverAndLoad(path string, f *os.File) (*mbox.Index, error) {
	if _, err := mbox.Recover(f, mbox.JournalPath(path)); err != nil {
		return nil, fmt.Errorf("recover %s: %w", path, err)
	}
	return b.loadMbox(path, f)
}

// loadMbox brings the cached index of path up to date; the caller holds
// the spool lock.
func (b *Backend) loadMbox(path string, f *os.File) (*mbox.Index, error) {
	prev, _ := b.mboxes.Get(path)
	var w *mbox.Window
	if prev != nil && len(prev.Msgs) >= windowMsgs {
		w = b.window(path)
	}
	idx, scan, work, err := mbox.LoadWith(f, prev, b.parseConfig(), w)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	b.noteScan(path, scan.String(), work)
	if scan != mbox.Unchanged {
		b.mboxes.Put(path, idx) // a lost index write only costs a rescan later
	}
	return idx, nil
}

// Spools of at least windowMsgs messages keep a mapping between loads
// (mbox.Window), for at most keptWindows spools at a time: checking that
// no message moved then costs memory reads instead of a page fault per
// message or two. Smaller spools map and unmap for each check.
const (
	windowMsgs  = 4096
	keptWindows = 32
)

func (b *Backend) window(path string) *mbox.Window {
	if w, ok := b.windows.Get(path); ok {
		return w
	}
	w := &mbox.Window{}
	if old, ok, _ := b.windows.PeekOrAdd(path, w); ok {
		return old
	}
	return w
}

func (d *mboxDrop) count() int       { return len(d.idx.Msgs) }
func (d *mboxDrop) size(i int) int64 { return d.idx.Msgs[i].Size }
func (d *mboxDrop) uid(i int) string { return d.idx.Msgs[i].UID }

// source is nil for a missing spool: its empty index is made afresh.
func (d *mboxDrop) source() any {
	if d.f == nil {
		return nil
	}
	return d.idx
}

func (d *mboxDrop) open(i int) (io.ReadCloser, error) {
	m := d.idx.Msgs[i]
	// Another program may have compacted the file in place meanwhile.
	if !mbox.StillThere(d.f, m) {
		return nil, errors.New("message no longer at its offset")
	}
	return io.NopCloser(mbox.Served(d.f, m.Data, m.DataEnd, m.Hidden)), nil
}

func (d *mboxDrop) release() error {
	if d.f == nil {
		return nil
	}
	return d.f.Close()
}

// key identifies a message across re-reads of the file.
type msgKey struct {
	uid  string
	size int64
}

func (d *mboxDrop) commit(ctx context.Context, deleted, _ []bool) (int, int64, error) {
	some := false
	for _, del := range deleted {
		some = some || del
	}
	if !some {
		return summary(d.idx)
	}
	if err := d.b.repairFirst(ctx, d.path); err != nil {
		return 0, 0, err
	}
	f, l, err := lock.OpenSpool(ctx, d.path, openFlags, d.b.opts.LockTimeout)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil // removed by someone else: nothing left to delete
	}
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	defer l.Release()
	cur, err := d.b.recoverAndLoad(d.path, f)
	if err != nil {
		return 0, 0, err
	}
	drop := match(d.idx, deleted, cur)
	if len(drop) == 0 {
		return summary(cur)
	}
	// Nothing arrived since the session's listing: all that is left was seen.
	seen := cur.Dev == d.idx.Dev && cur.Ino == d.idx.Ino && cur.Size == d.idx.Size
	next, _, err := mbox.Rewrite(d.path, f, cur, func(i int) bool { return !drop[i] }, seen)
	if err != nil {
		return 0, 0, fmt.Errorf("rewrite %s: %w", d.path, err)
	}
	d.b.mboxes.Put(d.path, next)
	return summary(next)
}

// match finds, in the current index, the messages the session deleted from
// its snapshot: at the same offset when the file was only appended to, else
// by UID and size (the file was rewritten by another program). A message
// that is gone already is not looked for further.
func match(snap *mbox.Index, deleted []bool, cur *mbox.Index) map[int]bool {
	want := map[msgKey]map[int64]bool{} // key -> snapshot offsets
	for i, del := range deleted {
		if del {
			m := snap.Msgs[i]
			k := msgKey{m.UID, m.Size}
			if want[k] == nil {
				want[k] = map[int64]bool{}
			}
			want[k][m.From] = true
		}
	}
	drop := map[int]bool{}
	for i, m := range cur.Msgs {
		k := msgKey{m.UID, m.Size}
		if want[k][m.From] {
			delete(want[k], m.From)
			drop[i] = true
		}
	}
	for i, m := range cur.Msgs {
		k := msgKey{m.UID, m.Size}
		if drop[i] || len(want[k]) == 0 {
			continue
		}
		for off := range want[k] {
			delete(want[k], off)
			break
		}
		drop[i] = true
	}
	return drop
}

func summary(idx *mbox.Index) (int, int64, error) {
	var size int64
	for _, m := range idx.Msgs {
		size += m.Size
	}
	return len(idx.Msgs), size, nil
}
