package mbox

import (
	"errors"
	"io"
	"os"
	"runtime/debug"
	"sync"

	"golang.org/x/sys/unix"
)

// boundariesHold reports whether every message still starts where it did:
// a "From " line after a newline. Some delivery agents (dovecot-lda) rewrite
// headers of messages already in the file, in place, and may shift the
// messages between the first and the last; an index with the old offsets
// would then serve, and a rewrite would move, the wrong bytes. It is paid
// only when the file grew, and looks at the same six bytes per message
// either way: through a read-only mapping of the file when one can be made
// (a 1 GB spool of 50,000 messages costs about 8 ms in page faults, against
// about 36 ms for one pread per message), else with one read per message.
// A Window kept from the last check saves the page faults too.
func boundariesHold(f *os.File, msgs []Msg, w *Window, dev, ino uint64) bool {
	if len(msgs) == 0 {
		return true
	}
	if w != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		if m, err := w.view(f, dev, ino, msgs[len(msgs)-1].From+5); err == nil {
			return mappedCheck(m, msgs)
		}
	}
	if ok, mapped := mappedBoundariesHold(f, msgs); mapped {
		return ok
	}
	return readBoundariesHold(f, msgs)
}

// mappedBoundariesHold checks msgs through a mapping of the file up to the
// last boundary; mapped is false when no mapping could be made. The caller
// holds the spool lock, so the file does not shrink meanwhile; if it does
// anyway (a program that ignores the lock truncates it), the access faults,
// the fault is recovered, and the boundaries count as moved.
func mappedBoundariesHold(f *os.File, msgs []Msg) (ok, mapped bool) {
	m, err := mapFile(f, msgs[len(msgs)-1].From+5)
	if err != nil {
		return false, false
	}
	defer unix.Munmap(m)
	return mappedCheck(m, msgs), true
}

// mapFile maps the first size bytes of f read-only.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size > int64(^uint(0)>>1) {
		return nil, errors.New("mbox: spool does not fit the address space")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var m []byte
	var merr error
	if err := rc.Control(func(fd uintptr) {
		m, merr = unix.Mmap(int(fd), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	}); err != nil {
		return nil, err
	}
	return m, merr
}

func mappedCheck(m []byte, msgs []Msg) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	for _, msg := range msgs {
		if msg.From == 0 {
			if string(m[:5]) != "From " {
				return false
			}
			continue
		}
		if string(m[msg.From-1:msg.From+5]) != "\nFrom " {
			return false
		}
	}
	return true
}

func readBoundariesHold(f io.ReaderAt, msgs []Msg) bool {
	b := make([]byte, 6)
	for _, m := range msgs {
		if m.From == 0 {
			if !StillThere(f, m) {
				return false
			}
			continue
		}
		if n, _ := f.ReadAt(b, m.From-1); n != 6 || string(b) != "\nFrom " {
			return false
		}
	}
	return true
}

// Window is a read-only mapping of one spool kept between loads, so that
// checking boundaries again reads memory that is mapped already instead of
// faulting every page in and unmapping it again. It follows the spool:
// another file at the path (by device and inode) is mapped instead, and a
// grown one is mapped further. It holds no descriptor, but keeps the file
// it maps in existence (a spool replaced by rename is freed when the
// Window moves on or is closed). The zero Window is ready to use.
type Window struct {
	mu       sync.Mutex
	dev, ino uint64
	m        []byte
	closed   bool
}

// view returns a mapping of at least the first n bytes of f, whose device
// and inode are dev and ino. The caller holds w.mu.
func (w *Window) view(f *os.File, dev, ino uint64, n int64) ([]byte, error) {
	if w.closed {
		return nil, errors.New("mbox: window closed")
	}
	if w.m != nil && (w.dev != dev || w.ino != ino) {
		w.unmap()
	}
	if int64(len(w.m)) >= n {
		return w.m, nil
	}
	// Room for growth, so that new mail rarely needs a new mapping; bytes
	// past the end of the file are never read.
	size := n + n/4
	if w.m != nil && size <= int64(^uint(0)>>1) {
		m, err := unix.Mremap(w.m, int(size), unix.MREMAP_MAYMOVE)
		if err == nil {
			w.m = m
			return m, nil
		}
		w.unmap()
	}
	m, err := mapFile(f, size)
	if err != nil {
		return nil, err
	}
	w.m, w.dev, w.ino = m, dev, ino
	return m, nil
}

func (w *Window) unmap() {
	unix.Munmap(w.m)
	w.m = nil
}

// Close unmaps the spool; checks through w map the file for themselves
// from then on.
func (w *Window) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.m != nil {
		w.unmap()
	}
}
