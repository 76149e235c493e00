package lock

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SpoolState is what can be seen of the locks on an mbox spool without
// taking any, for an administrator.
type SpoolState struct {
	// Dotlock is true when path.lock exists; DotlockPid is the pid it
	// names (0 for none), DotlockStale whether it would be broken now.
	Dotlock      bool      `json:"dotlock"`
	DotlockPid   int       `json:"dotlock_pid,omitempty"`
	DotlockStale bool      `json:"dotlock_stale,omitempty"`
	DotlockSince time.Time `json:"dotlock_since,omitzero"`
	// FileLocks are the kernel's locks on the spool: fcntl (POSIX), open
	// file description (OFDLCK) and flock (FLOCK) locks, of any process.
	FileLocks []FileLock `json:"file_locks,omitempty"`
	// FileLocksUnknown says why FileLocks could not be read; empty when
	// they were.
	FileLocksUnknown string `json:"file_locks_unknown,omitempty"`
}

// FileLock is one kernel lock on a file, as /proc/locks lists it.
type FileLock struct {
	Kind  string `json:"kind"` // POSIX (fcntl), OFDLCK or FLOCK
	Write bool   `json:"write"`
	// Pid is the holder; 0 when the kernel does not say (an OFD lock).
	Pid int `json:"pid,omitempty"`
}

// procLocks lists every file lock of the system. It is read rather than
// asking F_GETLK on the spool: that needs the spool open, and closing any
// descriptor of a file drops every fcntl lock this process holds on it,
// which would pull the lock from under one of its own sessions. F_GETLK
// also cannot see this process's own locks, nor flock ones.
var procLocks = "/proc/locks"

// InspectSpool reports the locks on the mbox at path. It opens neither
// the spool nor its dotlock for writing.
func InspectSpool(path string) SpoolState {
	var s SpoolState
	dot := path + ".lock"
	if st, err := os.Stat(dot); err == nil {
		s.Dotlock, s.DotlockSince = true, st.ModTime().UTC()
		if s.DotlockPid = dotlockPid(dot); s.DotlockPid > 0 {
			s.DotlockStale = errors.Is(syscall.Kill(s.DotlockPid, 0), syscall.ESRCH)
		} else {
			s.DotlockStale = time.Since(st.ModTime()) > StaleAge
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.FileLocksUnknown = "the spool does not exist"
		} else {
			s.FileLocksUnknown = fmt.Sprintf("stat %s: %v", path, err)
		}
		return s
	}
	var err error
	if s.FileLocks, err = fileLocks(uint64(st.Dev), st.Ino); err != nil {
		s.FileLocksUnknown = err.Error()
	}
	return s
}

// fileLocks returns the locks /proc/locks lists for the file dev, ino.
// Its lines read "1: POSIX  ADVISORY  WRITE 1234 fe:00:9987 0 EOF", the
// device's major and minor in hex; a blocked waiter's line has "->" after
// the number and is skipped.
func fileLocks(dev, ino uint64) ([]FileLock, error) {
	f, err := os.Open(procLocks)
	if err != nil {
		return nil, fmt.Errorf("file locks cannot be seen: %w", err)
	}
	defer f.Close()
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	var out []FileLock
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[5] != id {
			continue
		}
		l := FileLock{Kind: fields[1], Write: fields[3] == "WRITE"}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid > 0 {
			l.Pid = pid
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("file locks cannot be seen: %w", err)
	}
	return out, nil
}
