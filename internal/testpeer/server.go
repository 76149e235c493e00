package testpeer

import (
	"bytes"
	"os"
	"testing"
)

// User is a mailbox owner on a test server.
type User struct {
	Name, Password string
	Mbox           []byte // mbox-format content of the INBOX (LF line ends)
}

// Server is a running POP3 server on 127.0.0.1.
type Server struct {
	Addr    string // 127.0.0.1:port
	TLSAddr string // implicit TLS (pop3s) address, when the server has TLS
	// HAProxyAddr expects a PROXY header first, when the server has one.
	HAProxyAddr string
	Name        string // "dovecot" or "popa3d"

	logins map[string]string // User.Name -> the name to log in with
	store  mailStore
	stop   func()
}

// Stop stops the server now, for tests of an unreachable backend; a new
// connection is then refused. It is safe to call more than once, and the
// test's cleanup calls it anyway.
func (s *Server) Stop() { s.stop() }

// mailStore writes a user's mailbox in the server's own format.
type mailStore interface {
	setMbox(login string, mbox []byte) error
	mboxPath(login string) string // "" when the store is not an mbox file
	deliver(login string, msg []byte) error
}

// Login returns the name the user logs in with. popa3d users are system
// users with unique generated names; Dovecot keeps the name as given.
func (s *Server) Login(name string) string {
	if login, ok := s.logins[name]; ok {
		return login
	}
	return name
}

// SetMbox replaces the user's INBOX with the messages of an mbox.
func (s *Server) SetMbox(t testing.TB, name string, mbox []byte) {
	t.Helper()
	if err := s.store.setMbox(s.Login(name), mbox); err != nil {
		t.Fatalf("testpeer: %s: set mailbox of %s: %v", s.Name, name, err)
	}
}

// Deliver appends one RFC 5322 message (LF line ends) to the user's INBOX,
// as a delivery agent would.
func (s *Server) Deliver(t testing.TB, name string, msg []byte) {
	t.Helper()
	if err := s.store.deliver(s.Login(name), msg); err != nil {
		t.Fatalf("testpeer: %s: deliver to %s: %v", s.Name, name, err)
	}
}

// Mbox returns the current mbox file of the user, as the server left it
// (Dovecot adds its own headers). It fails the test for Maildir stores.
func (s *Server) Mbox(t testing.TB, name string) []byte {
	t.Helper()
	path := s.store.mboxPath(s.Login(name))
	if path == "" {
		t.Fatalf("testpeer: %s: %s has no mbox file", s.Name, name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testpeer: %s: %v", s.Name, err)
	}
	return data
}

// appendMbox appends one message to an mbox file, making sure a blank
// line separates it from the previous message.
func appendMbox(path string, msg []byte, uid, gid int) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	data := bytes.Clone(old)
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n\n")) {
		data = append(data, '\n')
	}
	data = append(data, MboxMessage(msg)...)
	return writeOwned(path, data, 0o600, uid, gid)
}

// writeOwned writes data to path and gives it to uid:gid, replacing the
// file in one rename so a server never reads half of it.
func writeOwned(path string, data []byte, mode os.FileMode, uid, gid int) error {
	tmp := path + ".testpeer-tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := chown(tmp, uid, gid); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// chown changes ownership only when running as root; otherwise the files
// already belong to the right (only) user.
func chown(path string, uid, gid int) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(path, uid, gid)
}
