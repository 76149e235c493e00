package mbox

import (
	"fmt"
	"os"
	"syscall"
	"time"

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
	out.Size = stats.NewSize
	res, _, _, err := finishIndex(f, out, Full, 0)
	if err != nil {
		return nil, stats, err
	}
	// Reading the file (above, and while compacting) may have moved its
	// access time past its modification time; set them last. Both "now"
	// needs only write access, not ownership; for the other case a
	// truncation to the same size sets the modification time alone.
	var st os.FileInfo
	var sys *syscall.Stat_t
	if seen {
		now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
		err = unix.UtimesNanoAt(unix.AT_FDCWD, path, now, unix.AT_SYMLINK_NOFOLLOW)
	}
	// File times tick coarsely (a few milliseconds): the last read and the
	// truncation can get the same time, which does not count as new mail.
	for try := 0; err == nil; try++ {
		if st, err = f.Stat(); err != nil {
			return nil, stats, err
		}
		sys = st.Sys().(*syscall.Stat_t)
		if seen || try == 5 || time.Unix(sys.Atim.Unix()).Before(st.ModTime()) {
			break
		}
		time.Sleep(time.Duration(try+1) * 2 * time.Millisecond)
		err = f.Truncate(stats.NewSize)
	}
	if err != nil {
		return nil, stats, fmt.Errorf("set times of %s: %w", path, err)
	}
	res.Dev, res.Ino = uint64(sys.Dev), sys.Ino
	res.Mtime, res.Ctime = st.ModTime().UnixNano(), sys.Ctim.Nano()
	return res, stats, nil
}
