package logging

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// IsJournalStream reports whether w is the stream systemd connected to the
// journal: systemd sets JOURNAL_STREAM to the "DEVICE:INODE" of that
// stream (systemd.exec(5)). Lines written there and to the local syslog
// socket, which journald also reads, would reach the journal twice.
func IsJournalStream(w io.Writer, environ []string) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	want := ""
	for _, e := range environ {
		if v, ok := strings.CutPrefix(e, "JOURNAL_STREAM="); ok {
			want = v
		}
	}
	if want == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return want == strconv.FormatUint(uint64(st.Dev), 10)+":"+strconv.FormatUint(st.Ino, 10)
}
