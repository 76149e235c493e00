package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Delete unlinks a message. A message already gone (deleted by another
// client, or moved to cur/ or given new flags since it was listed) is found
// again by its base name; one that no longer exists at all is not an error.
func Delete(dir string, m Msg) error {
	err := os.Remove(m.Path(dir))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	p, ok := Find(dir, m)
	if !ok {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// MarkSeen moves a message from new/ to cur/ and, when retrieved, adds the
// S (seen) flag, as Dovecot does after a POP3 session.
func MarkSeen(dir string, m Msg, retrieved bool) error {
	n, _ := ParseName(m.Name)
	target := m.Name
	switch {
	case retrieved:
		target = n.WithFlag('S')
	case m.Sub == "new" && n.Info == "":
		target = n.Base + ":2,"
	}
	if m.Sub == "cur" && target == m.Name {
		return nil
	}
	err := os.Rename(m.Path(dir), filepath.Join(dir, "cur", target))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // changed by someone else meanwhile; leave it be
	}
	return err
}

// Find returns the current path of message m, found by its base name in
// cur/ or new/ after another client moved or re-flagged it.
func Find(dir string, m Msg) (string, bool) {
	want := m.Base()
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			if baseOf(e.Name()) == want {
				return filepath.Join(dir, sub, e.Name()), true
			}
		}
	}
	return "", false
}
