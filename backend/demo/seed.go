package demo

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The demo account.
const (
	User     = "demo"
	Password = "demo"
)

// Info says what Seed found or created, and how to reach it.
type Info struct {
	// Created is true when Seed populated the directory; false when it
	// already had content and was left alone.
	Created bool
	// DataDir is the absolute data directory.
	DataDir string
	// UsersFile is <DataDir>/users.
	UsersFile string
	// Maildir is the demo user's Maildir, <DataDir>/mail/demo/Maildir.
	Maildir string
	// Messages is the number of demo messages delivered (0 when not Created).
	Messages int
	// HasDemoUser is true when the users file has a line for the demo user.
	HasDemoUser bool
}

// UsersFilePath returns where Seed puts the users file.
func UsersFilePath(dataDir string) string { return filepath.Join(dataDir, "users") }

// MaildirPattern returns the backend path pattern for the seeded layout:
// <dataDir>/mail/%u/Maildir.
func MaildirPattern(dataDir string) string {
	return filepath.Join(dataDir, "mail", "%u", "Maildir")
}

// BackendURL returns the backend URL of the seeded layout,
// maildir://<absolute dataDir>/mail/%u/Maildir.
func BackendURL(dataDir string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return "maildir://" + filepath.ToSlash(MaildirPattern(abs)), nil
}

// Seed creates the demo data directory when dataDir is missing or empty: a
// users file with the demo user (bcrypt) and a Maildir with a few messages.
// A directory that already has content is left alone, so Seed can run at
// every start. A missing directory is built under a temporary name and
// renamed into place, so a crash never leaves a half-seeded directory that
// would then be left alone for ever.
func Seed(dataDir string) (Info, error) {
	return seed(dataDir, time.Now())
}

func seed(dataDir string, now time.Time) (Info, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Info{}, fmt.Errorf("demo: %w", err)
	}
	info := Info{DataDir: abs, UsersFile: UsersFilePath(abs), Maildir: filepath.Join(abs, "mail", User, "Maildir")}

	entries, err := os.ReadDir(abs)
	switch {
	case err == nil && len(entries) > 0:
		info.HasDemoUser = hasUser(info.UsersFile, User)
		return info, nil
	case err == nil:
		// An empty directory, perhaps a mount point: fill it in place,
		// the users file last.
		if err := populate(abs, now); err != nil {
			return info, fmt.Errorf("demo: seed %s: %w", abs, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		created, err := populateAside(abs, now)
		if err != nil {
			return info, fmt.Errorf("demo: seed %s: %w", abs, err)
		}
		if !created { // another process seeded it first
			info.HasDemoUser = hasUser(info.UsersFile, User)
			return info, nil
		}
	default:
		return info, fmt.Errorf("demo: %w", err)
	}
	info.Created, info.Messages, info.HasDemoUser = true, len(messages), true
	return info, nil
}

// populateAside builds the directory next to its final place and renames
// it in. It reports false when dir appeared meanwhile with content.
func populateAside(dir string, now time.Time) (bool, error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".seed-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	if err := populate(tmp, now); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) > 0 {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// populate writes the Maildir and then the users file into dir.
func populate(dir string, now time.Time) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	md := filepath.Join(dir, "mail", User, "Maildir")
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(md, sub), 0o700); err != nil {
			return err
		}
	}
	host := maildirHost()
	for i, m := range messages {
		date := now.Add(time.Duration(i-len(messages)) * time.Minute)
		if err := deliver(md, m.render(i+1, date), date, i+1, host); err != nil {
			return err
		}
	}
	// The lowest cost: the password is published, so a higher cost would
	// protect nothing while every demo login (and the users file's dummy
	// check for unknown users) paid for it.
	hash, err := bcrypt.GenerateFromPassword([]byte(Password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	return writeFileAtomic(UsersFilePath(dir), []byte(usersFileHeader+User+":"+string(hash)+"\n"), 0o600)
}

// hasUser reports whether the users file has a line for user.
func hasUser(path, user string) bool {
	data, err := os.ReadFile(path)
	return err == nil && (bytes.HasPrefix(data, []byte(user+":")) || bytes.Contains(data, []byte("\n"+user+":")))
}

const usersFileHeader = `# popgate users file: one "user:secret" line per user.
# Secrets: bcrypt as "htpasswd -nB -C 10 user" prints it, SHA-512-crypt as
# "mkpasswd -m sha-512" prints it, or {PLAIN}secret. Only {PLAIN} users can
# log in with APOP, which needs the secret itself. The file is re-read when
# it changes; replace it by renaming a new file over it.
# The demo user's password is "demo": change or remove it before real use.
`

// writeFileAtomic writes path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// maildirHost is the host part of Maildir names, with the characters that
// would break a name encoded as the Maildir convention does ('/' as \057,
// ':' as \072, and ',' as \054 since ',' starts the S= and W= fields).
func maildirHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`).Replace(h)
}
