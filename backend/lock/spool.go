package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StaleAge is how old a dotlock without a pid must be before it is broken.
const StaleAge = 5 * time.Minute

// pollInterval is how often a held dotlock is retried.
const pollInterval = 20 * time.Millisecond

// backoffMax bounds the pause after the fcntl lock was found taken; the
// pause grows from pollInterval and is jittered so that two processes
// taking the locks in opposite orders do not retry in step.
const backoffMax = 200 * time.Millisecond

// ErrTimeout reports that a spool lock was not obtained in time.
var ErrTimeout = errors.New("lock: timed out")

// Spool is a held spool lock.
type Spool struct {
	dot string
	f   *os.File
}

// AcquireSpool locks the mbox at path: the dotlock path+".lock", then an
// fcntl write lock on f when f is not nil (f must be open for writing). It
// retries until timeout or ctx ends.
//
// Delivery agents take the two locks in different orders (procmail the
// dotlock first, dovecot-lda and Python's mailbox the fcntl lock first), so
// waiting for the second lock while holding the first could deadlock with
// one of them. The fcntl lock is therefore only tried, never waited for:
// when it is taken, the dotlock is given back and both are tried again
// after a jittered pause.
func AcquireSpool(ctx context.Context, path string, f *os.File, timeout time.Duration) (*Spool, error) {
	deadline := time.Now().Add(timeout)
	dot := path + ".lock"
	backoff := pollInterval
	for {
		if err := takeDotlock(ctx, dot, deadline); err != nil {
			return nil, err
		}
		s := &Spool{dot: dot, f: f}
		if f == nil {
			return s, nil
		}
		err := setlk(f, syscall.F_WRLCK)
		if err == nil {
			return s, nil
		}
		s.f = nil
		s.Release()
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("fcntl lock %s: %w", path, err)
		}
		if err := sleep(ctx, deadline, jitter(backoff)); err != nil {
			return nil, fmt.Errorf("fcntl lock %s held by %s: %w", path, fcntlHolder(f), err)
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// takeDotlock creates dot, breaking it when stale, until deadline.
func takeDotlock(ctx context.Context, dot string, deadline time.Time) error {
	for {
		err := createDotlock(dot)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("dotlock %s: %w", dot, err)
		}
		if breakStale(dot) {
			continue
		}
		if err := sleep(ctx, deadline, jitter(pollInterval)); err != nil {
			return fmt.Errorf("dotlock %s held by %s: %w", dot, holder(dot), err)
		}
	}
}

// jitter returns a pause between d/2 and 3d/2.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}

// OpenSpool opens the mbox at path with flag (O_CREATE makes it 0600) and
// locks it as AcquireSpool does. A rewrite renames a new file over the
// spool, so the file opened before the lock was held may no longer be the
// spool once it is: then it is closed, and the spool opened and locked
// again. Locking the old file and writing to it would lose what is written.
func OpenSpool(ctx context.Context, path string, flag int, timeout time.Duration) (*os.File, *Spool, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(path, flag, 0o600)
		if err != nil {
			return nil, nil, err
		}
		l, err := AcquireSpool(ctx, path, f, time.Until(deadline))
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if isFileAt(f, path) {
			return f, l, nil
		}
		l.Release()
		f.Close()
	}
}

// isFileAt reports whether f is the file now at path.
func isFileAt(f *os.File, path string) bool {
	fst, err := f.Stat()
	if err != nil {
		return false
	}
	pst, err := os.Stat(path)
	return err == nil && os.SameFile(fst, pst)
}

// Release drops the fcntl lock and removes the dotlock.
func (s *Spool) Release() error {
	var errs []error
	if s.f != nil {
		if err := setlk(s.f, syscall.F_UNLCK); err != nil {
			errs = append(errs, fmt.Errorf("fcntl unlock: %w", err))
		}
	}
	if err := os.Remove(s.dot); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func setlk(f *os.File, typ int16) error {
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: 0, Len: 0}
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}

// sleep pauses for d, or fails when the pause would pass deadline or ctx
// ends first.
func sleep(ctx context.Context, deadline time.Time, d time.Duration) error {
	if time.Now().Add(d).After(deadline) {
		return ErrTimeout
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fcntlHolder names the process holding a conflicting fcntl lock on f.
func fcntlHolder(f *os.File) string {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err == nil && lk.Type != syscall.F_UNLCK && lk.Pid > 0 {
		return "pid " + strconv.Itoa(int(lk.Pid))
	}
	return "another process"
}

// createDotlock creates dot holding our pid, all at once: the pid goes to
// a file of our own that is then hard-linked to dot (liblockfile's way). A
// process killed halfway never leaves an empty dotlock, which others could
// only break after StaleAge.
func createDotlock(dot string) error {
	tmp := fmt.Sprintf("%s.%d.%d", dot, os.Getpid(), rand.Uint32())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	_, werr := fmt.Fprintf(f, "%d\n", os.Getpid())
	if err := errors.Join(werr, f.Close()); err != nil {
		return err
	}
	return os.Link(tmp, dot)
}

// dotlockPid returns the pid written in a dotlock, or 0.
func dotlockPid(dot string) int {
	b, err := os.ReadFile(dot)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimRight(line, "\x00")))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func holder(dot string) string {
	if pid := dotlockPid(dot); pid > 0 {
		return "pid " + strconv.Itoa(pid)
	}
	return "an unknown process"
}

// breakStale removes dot if it is stale and reports whether it did.
func breakStale(dot string) bool {
	st, err := os.Stat(dot)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) // gone already: retry at once
	}
	stale := false
	if pid := dotlockPid(dot); pid > 0 {
		stale = errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	} else {
		stale = time.Since(st.ModTime()) > StaleAge
	}
	return stale && removeIfSame(dot, st)
}

// removeIfSame removes the dotlock if it is still the file st describes.
// Another process may have broken the same stale lock and taken a fresh
// one since st was read: the lock is moved aside atomically, removed only
// if it is that file, and put back otherwise.
func removeIfSame(dot string, st fs.FileInfo) bool {
	aside := dot + ".stale." + strconv.Itoa(os.Getpid())
	if err := os.Rename(dot, aside); err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	if ast, err := os.Stat(aside); err == nil && os.SameFile(st, ast) && ast.ModTime().Equal(st.ModTime()) {
		return os.Remove(aside) == nil
	}
	os.Link(aside, dot) // fails only if yet another lock exists by now
	os.Remove(aside)
	return false
}
