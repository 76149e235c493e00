package lock

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestInspectSpool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dora")
	if s := InspectSpool(path); s.Dotlock || s.FileLocksUnknown == "" {
		t.Errorf("missing spool: %+v, want no dotlock and the file locks unknown", s)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s := InspectSpool(path); s.Dotlock || len(s.FileLocks) != 0 || s.FileLocksUnknown != "" {
		t.Errorf("free spool: %+v, want nothing held", s)
	}

	// Held the way AcquireSpool holds it: a dotlock naming us, an fcntl
	// write lock.
	l, err := AcquireSpool(context.Background(), path, f, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := InspectSpool(path)
	want := []FileLock{{Kind: "POSIX", Write: true, Pid: os.Getpid()}}
	if !s.Dotlock || s.DotlockPid != os.Getpid() || s.DotlockStale || !slices.Equal(s.FileLocks, want) {
		t.Errorf("held spool: %+v, want our dotlock and %+v", s, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}

	// A dead holder's dotlock, and a reader's flock.
	if err := os.WriteFile(path+".lock", []byte("99999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	s = InspectSpool(path)
	want = []FileLock{{Kind: "FLOCK", Pid: os.Getpid()}}
	if !s.Dotlock || s.DotlockPid != 99999999 || !s.DotlockStale || !slices.Equal(s.FileLocks, want) {
		t.Errorf("stale dotlock: %+v, want it stale and %+v", s, want)
	}
	if s.DotlockSince.IsZero() {
		t.Error("no dotlock time")
	}
}
