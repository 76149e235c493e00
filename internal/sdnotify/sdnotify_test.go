package sdnotify

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen is a stand-in for systemd's notification socket.
func listen(t *testing.T) (string, func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return path, func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
}

func TestStates(t *testing.T) {
	path, read := listen(t)
	n := New(path)
	if err := n.Ready("serving"); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "READY=1\nSTATUS=serving\n" {
		t.Errorf("Ready sent %q", got)
	}
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	got := read()
	usec, ok := strings.CutPrefix(strings.TrimPrefix(got, "RELOADING=1\n"), "MONOTONIC_USEC=")
	v, err := strconv.ParseInt(strings.TrimSpace(usec), 10, 64)
	if !strings.HasPrefix(got, "RELOADING=1\n") || !ok || err != nil || v <= 0 {
		t.Errorf("Reloading sent %q", got)
	}
}

func TestWithoutSystemdNothingIsSent(t *testing.T) {
	if err := New("").Ready("x"); err != nil {
		t.Errorf("Ready without a socket: %v", err)
	}
	if New("").Enabled() {
		t.Error("Enabled without a socket")
	}
	if err := New(filepath.Join(t.TempDir(), "missing")).Ready("x"); err == nil {
		t.Error("Ready to a missing socket succeeded")
	}
}
