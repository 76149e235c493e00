package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StaleAge is how old a dotlock without a pid must be before it is broken.
const StaleAge = 5 * time.Minute

// pollInterval is how often a held lock is retried.
const pollInterval = 20 * time.Millisecond

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
func AcquireSpool(ctx context.Context, path string, f *os.File, timeout time.Duration) (*Spool, error) {
	deadline := time.Now().Add(timeout)
	dot := path + ".lock"
	for {
		err := createDotlock(dot)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("dotlock %s: %w", dot, err)
		}
		if breakStale(dot) {
			continue
		}
		if err := wait(ctx, deadline); err != nil {
			return nil, fmt.Errorf("dotlock %s held by %s: %w", dot, holder(dot), err)
		}
	}
	s := &Spool{dot: dot, f: f}
	if f == nil {
		return s, nil
	}
	for {
		err := setlk(f, syscall.F_WRLCK)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
			s.Release()
			return nil, fmt.Errorf("fcntl lock %s: %w", path, err)
		}
		if err := wait(ctx, deadline); err != nil {
			s.Release()
			return nil, fmt.Errorf("fcntl lock %s: %w", path, err)
		}
	}
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

func wait(ctx context.Context, deadline time.Time) error {
	if time.Now().After(deadline) {
		return ErrTimeout
	}
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func createDotlock(dot string) error {
	f, err := os.OpenFile(dot, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr := fmt.Fprintf(f, "%d\n", os.Getpid())
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(dot)
		return err
	}
	return nil
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
	if !stale {
		return false
	}
	return os.Remove(dot) == nil
}
