package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// InUseError reports a maildrop held by another session.
type InUseError struct {
	Maildrop string
	Holder   string // "pid N session ID" of the holder, when known
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("maildrop %s in use by %s", e.Maildrop, e.Holder)
}

// Sessions hands out one session lock per maildrop. Within a process a map
// decides; across processes (several popgate instances sharing dir) an
// flock on a file under dir, which the kernel drops if the holder dies.
type Sessions struct {
	dir  string // "" for in-process only
	mu   sync.Mutex
	held map[string]string // maildrop -> session ID

	// leases, when set, extend the lock to every instance (ShareThrough).
	leases   Leases
	instance string
	// stale holds, by maildrop, ended sessions' leases that the store
	// could not drop; retries counts their retrying goroutines, which
	// quit stops.
	stale   map[string]*lease
	retries sync.WaitGroup
	quit    chan struct{}
	closed  bool
}

// NewSessions returns session locks kept in dir (created if missing), or in
// memory only when dir is empty.
func NewSessions(dir string) (*Sessions, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("session lock dir: %w", err)
		}
	}
	return &Sessions{dir: dir, held: map[string]string{}}, nil
}

// Session is a held session lock.
type Session struct {
	s        *Sessions
	maildrop string
	f        *os.File
	lease    *lease
}

// Acquire takes the session lock on maildrop for session id, or returns an
// *InUseError naming the holder.
func (s *Sessions) Acquire(maildrop, id string) (*Session, error) {
	l, err := s.acquireLocal(maildrop, id)
	if err != nil || s.leases == nil {
		return l, err
	}
	// The lease is a network call: taken outside the mutex, with the
	// local lock already keeping this process's other sessions out.
	le, err := s.takeLease(maildrop, id)
	if err != nil {
		l.Release()
		return nil, err
	}
	l.lease = le
	return l, nil
}

// acquireLocal takes the in-process lock and the flock.
func (s *Sessions) acquireLocal(maildrop, id string) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.held[maildrop]; ok {
		return nil, &InUseError{Maildrop: maildrop, Holder: fmt.Sprintf("pid %d session %s", os.Getpid(), h)}
	}
	l := &Session{s: s, maildrop: maildrop}
	if s.dir != "" {
		sum := sha256.Sum256([]byte(maildrop))
		name := filepath.Join(s.dir, hex.EncodeToString(sum[:12])+".lock")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("session lock %s: %w", name, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			b := make([]byte, 256)
			n, _ := f.ReadAt(b, 0)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &InUseError{Maildrop: maildrop, Holder: strings.TrimSpace(string(b[:n]))}
			}
			return nil, fmt.Errorf("session lock %s: %w", name, err)
		}
		f.Truncate(0)
		fmt.Fprintf(f, "pid %d session %s\n", os.Getpid(), id)
		l.f = f
	}
	s.held[maildrop] = id
	return l, nil
}

// Release drops the session lock. It is safe to call more than once. The
// local locks go before the shared lease, whose drop is a network call: a
// client that logs in again at once is not turned away as [IN-USE] by its
// own ended session while the store is slow or down.
func (l *Session) Release() error {
	if l == nil || l.s == nil {
		return nil
	}
	ended := l.lease != nil && l.lease.end()
	l.s.mu.Lock()
	delete(l.s.held, l.maildrop)
	l.s.mu.Unlock()
	l.s = nil
	var err error
	if l.f != nil {
		err = l.f.Close() // closing drops the flock
	}
	if ended {
		l.lease.release()
	}
	return err
}
