package tlsticket

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testcert"
)

var secretA = []byte(strings.Repeat("a", MinSecret))

func TestKeysOverlap(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cur := Keys(secretA, now)
	if len(cur) != Kept+2 {
		t.Fatalf("%d keys, want %d", len(cur), Kept+2)
	}
	if again := Keys(secretA, now.Add(time.Second)); again[0] != cur[0] {
		t.Error("the encrypting key changed within a period")
	}
	// The key that encrypts now still decrypts Kept periods later, and not after.
	if !contains(Keys(secretA, now.Add(Kept*Period)), cur[0]) {
		t.Errorf("a key is dropped before %d periods", Kept)
	}
	if contains(Keys(secretA, now.Add((Kept+1)*Period)), cur[0]) {
		t.Errorf("a key is kept longer than %d periods", Kept)
	}
	// A clock one period ahead still accepts this period's tickets.
	if !contains(Keys(secretA, now.Add(-Period)), cur[0]) {
		t.Error("an instance whose clock is behind rejects the current key")
	}
	other := Keys([]byte(strings.Repeat("b", MinSecret)), now)
	for _, k := range other {
		if contains(cur, k) {
			t.Fatal("two secrets share a key")
		}
	}
}

func contains(keys [][32]byte, k [32]byte) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte(strings.Repeat("f", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSecret(good)
	if err != nil || len(s) != 64 {
		t.Fatalf("ReadSecret = %d bytes, %v", len(s), err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("  tooshort \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecret(short); err == nil || !strings.Contains(err.Error(), "at least 32 bytes, found 8") {
		t.Errorf("short secret: %v", err)
	}
	if _, err := ReadSecret(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
}

// TestResumeAcrossServers resumes, with TLS 1.3 and 1.2, a session on a
// second server that shares the secret, and not on one with another secret.
func TestResumeAcrossServers(t *testing.T) {
	cert := testcert.New(t)
	server := func(secret []byte) string {
		cfg := cert.Server.Clone()
		r := Start(cfg, secret)
		t.Cleanup(r.Stop)
		l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					_, _ = c.Write([]byte("+OK\r\n"))
					_, _ = c.Read(make([]byte, 1))
				}()
			}
		}()
		return l.Addr().String()
	}
	first, twin, stranger := server(secretA), server(secretA), server(nil)
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		client := cert.Client()
		client.MaxVersion = version
		client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		if dial(t, first, client) {
			t.Fatalf("TLS %x: the first handshake resumed", version)
		}
		if !dial(t, twin, client) {
			t.Errorf("TLS %x: no resumption on a server sharing the secret", version)
		}
		if dial(t, stranger, client) {
			t.Errorf("TLS %x: resumed on a server with another secret", version)
		}
	}
}

// dial connects, reads the greeting (which also takes in a TLS 1.3
// ticket) and reports whether the session was resumed.
func dial(t *testing.T, addr string, cfg *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState().DidResume
}
