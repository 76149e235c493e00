package testpeer

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// dovecotStore writes mail into the homes of a private Dovecot.
type dovecotStore struct {
	base    string
	maildir bool
	owner   mailUser
	seq     atomic.Int64 // makes Maildir file names unique
}

func (s *dovecotStore) home(login string) string { return filepath.Join(s.base, "home", login) }

func (s *dovecotStore) createHome(login string) error {
	home := s.home(login)
	dirs := []string{home, filepath.Join(home, "mail")}
	if s.maildir {
		for _, sub := range []string{"", "cur", "new", "tmp"} {
			dirs = append(dirs, filepath.Join(home, "Maildir", sub))
		}
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := chown(dir, s.owner.uid, s.owner.gid); err != nil {
			return err
		}
	}
	return nil
}

func (s *dovecotStore) mboxPath(login string) string {
	if s.maildir {
		return ""
	}
	return filepath.Join(s.home(login), "inbox")
}

func (s *dovecotStore) setMbox(login string, mbox []byte) error {
	if !s.maildir {
		return writeOwned(s.mboxPath(login), mbox, 0o600, s.owner.uid, s.owner.gid)
	}
	for _, dir := range []string{"cur", "new"} {
		path := filepath.Join(s.home(login), "Maildir", dir)
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.Remove(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	for _, msg := range SplitMbox(mbox) {
		if err := s.deliver(login, msg); err != nil {
			return err
		}
	}
	return nil
}

func (s *dovecotStore) deliver(login string, msg []byte) error {
	if !s.maildir {
		return appendMbox(s.mboxPath(login), msg, s.owner.uid, s.owner.gid)
	}
	// Maildir names sort by delivery time, so a counter keeps order.
	n := s.seq.Add(1)
	name := fmt.Sprintf("%d.P%dQ%d.testpeer", 1000000000+n, os.Getpid(), n)
	tmp := filepath.Join(s.home(login), "Maildir", "tmp", name)
	if err := writeOwned(tmp, msg, 0o600, s.owner.uid, s.owner.gid); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.home(login), "Maildir", "new", name))
}
