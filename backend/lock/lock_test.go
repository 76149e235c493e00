package lock

import (
	"context"
	"errors"
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
