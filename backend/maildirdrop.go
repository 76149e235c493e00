package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/popgate/popgate/backend/maildir"
	"github.com/popgate/popgate/backend/mbox"
)

// A Maildir needs no lock: deliveries land in new/ by rename and never
// touch existing files. The snapshot is the listing at Open; UPDATE unlinks
// deleted messages and moves the others from new/ to cur/.
type maildirDrop struct {
	b   *Backend
	dir string
	idx *maildir.Index
}

func (b *Backend) openMaildir(dir string) (*maildirDrop, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &maildirDrop{b: b, dir: dir, idx: &maildir.Index{}}, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open %s: not a directory", dir)
	}
	prev, _ := b.maildirs.Get(dir)
	idx, read, err := maildir.Load(dir, prev, b.parseConfig())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	scan := "unchanged"
	if read > 0 || prev == nil || len(prev.Msgs) != len(idx.Msgs) {
		scan = "appended"
		if prev == nil {
			scan = "full"
		}
		b.maildirs.Put(dir, idx)
	}
	b.noteScan(dir, scan, int64(read))
	return &maildirDrop{b: b, dir: dir, idx: idx}, nil
}

func (d *maildirDrop) count() int       { return len(d.idx.Msgs) }
func (d *maildirDrop) size(i int) int64 { return d.idx.Msgs[i].Size }
func (d *maildirDrop) uid(i int) string { return d.idx.Msgs[i].UID }

// source is nil: a Maildir's index is listed afresh at every Open.
func (d *maildirDrop) source() any { return nil }

func (d *maildirDrop) open(i int) (io.ReadCloser, error) {
	m := d.idx.Msgs[i]
	f, err := os.Open(m.Path(d.dir))
	if errors.Is(err, fs.ErrNotExist) {
		// Moved or re-flagged by another client since the listing.
		if p, ok := maildir.Find(d.dir, m); ok {
			f, err = os.Open(p)
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{mbox.Served(f, 0, st.Size(), m.Hidden), f}, nil
}

func (d *maildirDrop) release() error { return nil }

func (d *maildirDrop) commit(ctx context.Context, deleted, retrieved []bool) (int, int64, error) {
	var errs []error
	left, leftBytes := 0, int64(0)
	for i, m := range d.idx.Msgs {
		if deleted[i] {
			errs = append(errs, maildir.Delete(d.dir, m))
			continue
		}
		left, leftBytes = left+1, leftBytes+m.Size
		errs = append(errs, maildir.MarkSeen(d.dir, m, retrieved[i]))
	}
	return left, leftBytes, errors.Join(errs...)
}
