package mbox

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// TempPrefix starts the names of the files a rewrite keeps beside the
// mailbox: its journal (JournalPath).
const TempPrefix = ".popgate-"

// Rewrite removes from the mailbox at path, whose current content f and
// idx describe, the messages for which keep returns false, in place
// (Compact): the file keeps its inode, owner and mode, and a crash at any
// instant is repaired by Recover. The caller holds the spool lock, idx is
// fresh under it and any earlier journal has been recovered.
//
// seen says that the reader was shown every message kept; the file's
// access time is then set to its modification time, so that the check
// "modified since last read" of mail notifiers and shells finds no new
// mail. Otherwise mail that arrived meanwhile stays new. It returns the
// index of the new content and what the compaction wrote.
func Rewrite(path string, f *os.File, idx *Index, keep func(i int) bool, seen bool) (*Index, CompactStats, error) {
	out := &Index{Config: idx.Config, Preamble: idx.Preamble}
	spans := []Span{{0, idx.Preamble}}
	off := idx.Preamble
	for i, m := range idx.Msgs {
		if !keep(i) {
			continue
		}
		spans = append(spans, Span{m.From, m.End - m.From})
		shift := off - m.From
		off += m.End - m.From
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
	stats, err := Compact(f, JournalPath(path), spans)
	if err != nil {
		return nil, stats, err
	}
	if seen {
		// Both times "now" needs only write access, not ownership.
		now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, stats, fmt.Errorf("set times of %s: %w", path, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return nil, stats, err
	}
	sys := st.Sys().(*syscall.Stat_t)
	out.Dev, out.Ino, out.Size = uint64(sys.Dev), sys.Ino, st.Size()
	out.Mtime, out.Ctime = st.ModTime().UnixNano(), sys.Ctim.Nano()
	res, _, _, err := finishIndex(f, out, Full, 0)
	return res, stats, err
}
