package mbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// TempPrefix starts the name of the temporary file a rewrite writes beside
// the mailbox. A leftover one (after a crash) is harmless and can be removed.
const TempPrefix = ".popgate-"

// Rewrite replaces the mailbox at path, whose current content f and idx
// describe, with the messages for which keep returns true (and any
// preamble). The caller holds the spool lock and idx must be fresh under it.
//
// The new content goes to a temporary file in the same directory, which is
// synced, given the mailbox's owner and mode, and renamed over the mailbox:
// a crash at any instant leaves either the old or the new mailbox, whole.
// It returns the index of the new file.
func Rewrite(path string, f *os.File, idx *Index, keep func(i int) bool) (*Index, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	out := &Index{Config: idx.Config, Preamble: idx.Preamble}
	var off int64
	copyRange := func(from, to int64) error {
		n, err := io.Copy(tmp, io.NewSectionReader(f, from, to-from))
		off += n
		if err == nil && n != to-from {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := copyRange(0, idx.Preamble); err != nil {
		return nil, fmt.Errorf("copy to %s: %w", tmp.Name(), err)
	}
	for i, m := range idx.Msgs {
		if !keep(i) {
			continue
		}
		shift := off - m.From
		if err := copyRange(m.From, m.End); err != nil {
			return nil, fmt.Errorf("copy to %s: %w", tmp.Name(), err)
		}
		m.From += shift
		m.Data += shift
		m.DataEnd += shift
		m.End += shift
		m.Hidden = append([]Span(nil), m.Hidden...)
		for j := range m.Hidden {
			m.Hidden[j].Off += shift
		}
		out.Msgs = append(out.Msgs, m)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return nil, err
	}
	if sys != nil && (int(sys.Uid) != os.Geteuid() || int(sys.Gid) != os.Getegid()) {
		if err := tmp.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
			return nil, fmt.Errorf("keep owner of %s: %w", path, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	done = true
	defer tmp.Close()
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; the data already is
		d.Close()
	}
	nst, err := tmp.Stat()
	if err != nil {
		return nil, errors.Join(err, tmp.Close())
	}
	nsys := nst.Sys().(*syscall.Stat_t)
	out.Dev, out.Ino, out.Size = uint64(nsys.Dev), nsys.Ino, nst.Size()
	out.Mtime, out.Ctime = nst.ModTime().UnixNano(), nsys.Ctim.Nano()
	res, _, _, err := finishIndex(tmp, out, Full, 0)
	return res, err
}
