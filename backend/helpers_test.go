package backend

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// stubAuth accepts every user whose password is "pw".
type stubAuth struct{}

func (stubAuth) Authenticate(ctx context.Context, c pop3.Credentials) error {
	if c.Password != "pw" {
		return pop3.ErrAuthFailed
	}
	return nil
}

// scanLog records index loads.
type scanLog struct {
	mu    sync.Mutex
	scans []string
	work  int64
}

func (s *scanLog) note(path, scan string, work int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans = append(s.scans, scan)
	s.work += work
}

func (s *scanLog) last() (string, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.work
	s.work = 0
	if len(s.scans) == 0 {
		return "", w
	}
	return s.scans[len(s.scans)-1], w
}

func newTestBackend(t testing.TB, kind, pattern, dataDir string, scheme uidl.Scheme) (*Backend, *scanLog) {
	t.Helper()
	b, err := New(Options{Name: "native", Kind: kind, PathPattern: pattern, UIDL: scheme,
		Auth: stubAuth{}, DataDir: dataDir, LockTimeout: 2e9})
	if err != nil {
		t.Fatal(err)
	}
	log := &scanLog{}
	b.scanned = log.note
	t.Cleanup(func() { b.Close() })
	return b, log
}

var sessionSeq struct {
	sync.Mutex
	n int
}

func login(t testing.TB, b *Backend, user string) pop3.Mailbox {
	t.Helper()
	m, err := open(b, user)
	if err != nil {
		t.Fatalf("Open(%s): %v", user, err)
	}
	return m
}

func open(b *Backend, user string) (pop3.Mailbox, error) {
	sessionSeq.Lock()
	sessionSeq.n++
	id := "s" + strconv.Itoa(sessionSeq.n)
	sessionSeq.Unlock()
	return b.Open(context.Background(), pop3.Credentials{Mechanism: pop3.MechUser, User: user, Password: "pw", SessionID: id})
}

func uidList(t testing.TB, m pop3.Mailbox) []string {
	t.Helper()
	l, err := m.Uidl(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mi := range l {
		out = append(out, mi.UID)
	}
	return out
}

func readMsg(t testing.TB, rc io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
