package lock

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDotlockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rachel")
	a, err := AcquireSpool(context.Background(), path, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path + ".lock")
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("dotlock content %q, %v; want our pid", b, err)
	}
	_, err = AcquireSpool(context.Background(), path, nil, 60*time.Millisecond)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second AcquireSpool: %v, want a timeout naming the pid", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	c, err := AcquireSpool(context.Background(), path, nil, time.Second)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	c.Release()
}

func TestStaleDotlocks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bob")
	// A pid that cannot be running (above the kernel's pid_max).
	os.WriteFile(path+".lock", []byte("99999999\n"), 0o644)
	l, err := AcquireSpool(context.Background(), path, nil, time.Second)
	if err != nil {
		t.Fatalf("dead holder not broken: %v", err)
	}
	l.Release()

	// No pid: fresh is honoured, old is broken.
	os.WriteFile(path+".lock", nil, 0o644)
	if _, err := AcquireSpool(context.Background(), path, nil, 50*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("fresh pid-less dotlock: %v, want timeout", err)
	}
	old := time.Now().Add(-StaleAge - time.Minute)
	os.Chtimes(path+".lock", old, old)
	l, err = AcquireSpool(context.Background(), path, nil, time.Second)
	if err != nil {
		t.Fatalf("old pid-less dotlock not broken: %v", err)
	}
	l.Release()

	// Our own pid is alive: honoured.
	os.WriteFile(path+".lock", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	if _, err := AcquireSpool(context.Background(), path, nil, 50*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("live holder: %v, want timeout", err)
	}
}

func TestFcntlTaken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carol")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := AcquireSpool(context.Background(), path, f, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
		t.Errorf("dotlock left behind: %v", err)
	}
}

func TestSessions(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		s, err := NewSessions(dir)
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Acquire("/var/mail/rachel", "s1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Acquire("/var/mail/rachel", "s2")
		var iu *InUseError
		if !errors.As(err, &iu) || !strings.Contains(iu.Holder, "s1") {
			t.Fatalf("dir %q: second session: %v, want in use by s1", dir, err)
		}
		if b, err := s.Acquire("/var/mail/bob", "s3"); err != nil {
			t.Fatalf("other maildrop: %v", err)
		} else {
			b.Release()
		}
		a.Release()
		a.Release()
		c, err := s.Acquire("/var/mail/rachel", "s4")
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		c.Release()
	}
}

// Two Sessions over one directory stand in for two processes: the flock
// excludes across open file descriptions and names the holder.
func TestSessionsAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	s1, _ := NewSessions(dir)
	s2, _ := NewSessions(dir)
	a, err := s1.Acquire("/var/mail/dave", "first")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Acquire("/var/mail/dave", "second")
	var iu *InUseError
	if !errors.As(err, &iu) || !strings.Contains(iu.Holder, "session first") {
		t.Fatalf("other instance: %v, want in use by session first", err)
	}
	a.Release()
	b, err := s2.Acquire("/var/mail/dave", "second")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release()
}

// A stale lock that another process broke and replaced with its own since
// it was judged stale must survive: removing it would let two processes
// write the spool at once.
func TestBreakingAStaleLockSparesAFreshOne(t *testing.T) {
	dot := filepath.Join(t.TempDir(), "eve.lock")
	if err := os.WriteFile(dot, []byte("999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale, err := os.Stat(dot)
	if err != nil {
		t.Fatal(err)
	}
	// The other process: breaks it and takes the lock.
	if err := os.Remove(dot); err != nil {
		t.Fatal(err)
	}
	if err := createDotlock(dot); err != nil {
		t.Fatal(err)
	}
	if removeIfSame(dot, stale) {
		t.Error("removed a lock other than the one judged stale")
	}
	if pid := dotlockPid(dot); pid != os.Getpid() {
		t.Errorf("dotlock now names pid %d, want the fresh holder %d", pid, os.Getpid())
	}
	if m, _ := filepath.Glob(dot + ".stale.*"); len(m) != 0 {
		t.Errorf("left %v behind", m)
	}
	fresh, err := os.Stat(dot)
	if err != nil {
		t.Fatal(err)
	}
	if !removeIfSame(dot, fresh) {
		t.Error("did not remove the lock it was given")
	}
	if _, err := os.Stat(dot); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock still there: %v", err)
	}
}

// A spool renamed over while OpenSpool waits for the lock is opened again:
// the file it returns is the one at the path.
func TestOpenSpoolFollowsARewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zoe")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := AcquireSpool(context.Background(), path, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	type opened struct {
		f   *os.File
		l   *Spool
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, l, err := OpenSpool(context.Background(), path, os.O_RDWR, 5*time.Second)
		done <- opened{f, l, err}
	}()
	time.Sleep(3 * pollInterval) // it has opened the old file and waits
	// A rewrite, as a session's UPDATE does it.
	if err := os.WriteFile(path+".new", []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	held.Release()
	got := <-done
	if got.err != nil {
		t.Fatal(got.err)
	}
	defer got.f.Close()
	defer got.l.Release()
	b, err := io.ReadAll(got.f)
	if err != nil || string(b) != "new\n" {
		t.Errorf("locked file holds %q, %v; want the rewritten spool", b, err)
	}
}
