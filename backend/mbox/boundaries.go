package mbox

import (
	"io"
	"os"
	"runtime/debug"
	"syscall"
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
func boundariesHold(f *os.File, msgs []Msg) bool {
	if len(msgs) == 0 {
		return true
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
	end := msgs[len(msgs)-1].From + 5
	if end > int64(^uint(0)>>1) {
		return false, false // does not fit the address space
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, false
	}
	var m []byte
	var merr error
	if err := rc.Control(func(fd uintptr) {
		m, merr = syscall.Mmap(int(fd), 0, int(end), syscall.PROT_READ, syscall.MAP_SHARED)
	}); err != nil || merr != nil {
		return false, false
	}
	defer syscall.Munmap(m)
	return mappedCheck(m, msgs), true
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
