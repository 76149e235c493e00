package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/popgate/popgate/pop3"
)

// UsersFile authenticates against a file in Dovecot's passwd-file format,
// "user:secret[:uid:gid:gecos:home:shell:extra]": the fields after the
// secret are ignored, so a Dovecot file can be used as it is. Blank lines
// and lines starting with '#' are ignored. The secret is one of
//
//	$2y$... $2a$... $2b$...   bcrypt, as `htpasswd -B` writes it
//	$6$[rounds=N$]salt$hash   SHA-512-crypt, as `mkpasswd -m sha-512` writes it
//	$5$[rounds=N$]salt$hash   SHA-256-crypt
//	{PLAIN}secret             the secret itself, up to the next ':'
//
// A line that cannot be used (an unsupported scheme such as {CRAM-MD5} or
// $1$, no secret, a user listed twice) disables that user, who is then
// refused as with a wrong password, and is reported by Warnings: one bad
// line must not stop the logins of everyone else.
//
// Only {PLAIN} users can log in with APOP. The file is reloaded when its
// modification time, size or identity changes (checked on each
// Authenticate), or by Reload; replace it by renaming a new file over it so
// that a half-written file is never read. A file that fails to load leaves
// the previous users in force.
//
// For an unknown user Authenticate still verifies the password against a
// dummy secret of the file's most common kind and cost, so that an unknown
// user and a wrong password take the same work and get the same refusal.
type UsersFile struct {
	path  string
	table atomic.Pointer[usersTable]

	mu        sync.Mutex // serialises reloads
	stamp     fileStamp  // of the file last loaded
	failStamp fileStamp  // of the file last failed to load, not retried

	// observe, when set by tests, sees every verification: the kind of
	// secret and whether it was the dummy.
	observe func(kind string, dummy bool)
}

var (
	_ Authenticator = (*UsersFile)(nil)
	_ APOPChecker   = (*UsersFile)(nil)
	_ pop3.APOPer   = (*UsersFile)(nil)
)

// usersTable is one loaded version of the file; it is never modified.
type usersTable struct {
	users    map[string]secret
	disabled map[string]bool
	warnings []string
	dummy    secret
	anyPlain bool
}

// fileStamp identifies one version of the file: its identity (inode),
// modification time and size.
type fileStamp struct {
	info os.FileInfo
}

func (s fileStamp) same(fi os.FileInfo) bool {
	return s.info != nil && os.SameFile(s.info, fi) &&
		s.info.ModTime().Equal(fi.ModTime()) && s.info.Size() == fi.Size()
}

// LoadUsersFile reads the users file at path. Errors name the line.
func LoadUsersFile(path string) (*UsersFile, error) {
	f := &UsersFile{path: path}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path.
func (f *UsersFile) Path() string { return f.path }

// Reload reads the file again. On error the users loaded before stay in
// force.
func (f *UsersFile) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("auth: users file: %w", err)
	}
	return f.reloadLocked(fi)
}

// Prepare reads the file as Reload does, but puts it in force only when
// commit is called, so that it can be reloaded with other settings, all or
// nothing. warnings are those of the new file.
func (f *UsersFile) Prepare() (commit func(), warnings []string, err error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: users file: %w", err)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: users file: %w", err)
	}
	t, err := parseUsers(data)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: users file %s: %w", f.path, err)
	}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.table.Store(t)
		f.stamp, f.failStamp = fileStamp{fi}, fileStamp{}
	}, t.warnings, nil
}

func (f *UsersFile) reloadLocked(fi os.FileInfo) error {
	data, err := os.ReadFile(f.path)
	if err != nil {
		f.failStamp = fileStamp{fi}
		return fmt.Errorf("auth: users file: %w", err)
	}
	t, err := parseUsers(data)
	if err != nil {
		f.failStamp = fileStamp{fi}
		return fmt.Errorf("auth: users file %s: %w", f.path, err)
	}
	f.table.Store(t)
	f.stamp, f.failStamp = fileStamp{fi}, fileStamp{}
	return nil
}

// reloadIfChanged reloads the file when it differs from the one loaded.
// Errors are not reported here: the users loaded before stay in force, and
// Reload (e.g. on SIGHUP) reports them.
func (f *UsersFile) reloadIfChanged() {
	fi, err := os.Stat(f.path)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stamp.same(fi) || f.failStamp.same(fi) {
		return
	}
	_ = f.reloadLocked(fi)
}

// Warnings returns the problems with single lines found by the last load
// (each names its line); the users they concern are disabled.
func (f *UsersFile) Warnings() []string { return f.table.Load().warnings }

// parseUsers parses the whole file and picks the dummy secret. Problems with
// one line disable that line's user and are recorded as warnings; only a
// file that cannot be read at all is an error.
func parseUsers(data []byte) (*usersTable, error) {
	t := &usersTable{users: make(map[string]secret), disabled: make(map[string]bool)}
	kinds := make(map[string]int)
	var mostCommon secret
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<10)
	for n := 1; sc.Scan(); n++ {
		user, s, err := parseUserLine(sc.Text())
		switch {
		case user == "" && err == nil:
			continue // blank or comment
		case user == "":
			t.warnings = append(t.warnings, fmt.Sprintf("line %d: %v; line ignored", n, err))
			continue
		case t.disabled[user]:
			t.warnings = append(t.warnings, fmt.Sprintf("line %d: user %q listed again; still disabled", n, user))
			continue
		case t.users[user] != nil:
			delete(t.users, user)
			t.disabled[user] = true
			t.warnings = append(t.warnings, fmt.Sprintf("line %d: user %q listed twice; user disabled", n, user))
			continue
		case err != nil:
			t.disabled[user] = true
			t.warnings = append(t.warnings, fmt.Sprintf("line %d: user %q: %v; user disabled", n, user, err))
			continue
		}
		t.users[user] = s
		if kinds[s.kind()]++; mostCommon == nil || kinds[s.kind()] > kinds[mostCommon.kind()] {
			mostCommon = s
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	t.anyPlain = false
	for _, s := range t.users {
		t.anyPlain = t.anyPlain || s.plain() != nil
	}
	if mostCommon == nil {
		// An empty file refuses everyone, still at a realistic cost.
		mostCommon = bcryptSecret{cost: 10}
	}
	d, err := mostCommon.dummy()
	if err != nil {
		return nil, fmt.Errorf("dummy secret: %w", err)
	}
	t.dummy = d
	return t, nil
}

// parseUserLine reads one passwd-file line: user is "" for a blank or
// comment line, or when the line names no usable user (err says why).
func parseUserLine(line string) (user string, s secret, err error) {
	line = strings.TrimSuffix(line, "\r")
	if trimmed := strings.TrimSpace(line); trimmed == "" || trimmed[0] == '#' {
		return "", nil, nil
	}
	user, rest, ok := strings.Cut(line, ":")
	if user == "" || strings.ContainsAny(user, " \t") {
		return "", nil, fmt.Errorf("bad user name %q", user)
	}
	if !ok {
		return user, nil, errors.New("want user:secret")
	}
	field, _, _ := strings.Cut(rest, ":")
	if !strings.HasPrefix(field, plainPrefix) {
		field = strings.TrimSpace(field)
	}
	s, err = parseSecret(field)
	return user, s, err
}

// Authenticate checks USER/PASS, AUTH PLAIN and LOGIN credentials, and the
// APOP and CRAM-MD5 digests of users with a plain secret.
func (f *UsersFile) Authenticate(_ context.Context, c pop3.Credentials) error {
	f.reloadIfChanged()
	t := f.table.Load()
	s, known := t.users[c.User]
	disabled := t.disabled[c.User]
	if !known {
		s = t.dummy
	}
	var ok bool
	kind := s.kind()
	switch c.Mechanism {
	case pop3.MechUser, pop3.MechPlain, pop3.MechLogin:
		ok = s.verify([]byte(c.Password))
	case pop3.MechAPOP, pop3.MechCRAMMD5:
		p := s.plain()
		if p == nil {
			if known {
				return refuse(fmt.Errorf("users file: user %q: %w", c.User, ErrNoAPOPSecret))
			}
			p = []byte(rand.Text())
		}
		if c.Mechanism == pop3.MechAPOP {
			ok, kind = verifyAPOP(c.Timestamp, p, c.Digest), "apop"
		} else {
			ok, kind = verifyCRAM(c.Timestamp, p, c.Digest), "cram-md5"
		}
	default:
		return refuse(fmt.Errorf("users file: user %q: %w %q", c.User, ErrMechanism, c.Mechanism))
	}
	if f.observe != nil {
		f.observe(kind, !known)
	}
	switch {
	case disabled:
		// Listed, so decided by the file alone: no fallback to a legacy
		// server, and the same refusal as a wrong password.
		return refuse(fmt.Errorf("users file: user %q: %w (disabled: unusable line)", c.User, ErrWrongPassword))
	case !known:
		return refuse(fmt.Errorf("users file: user %q: %w", c.User, ErrUnknownUser))
	case !ok:
		return refuse(fmt.Errorf("users file: user %q: %w", c.User, ErrWrongPassword))
	}
	return nil
}

// CanAPOP reports whether user has a plain secret, which APOP needs.
func (f *UsersFile) CanAPOP(user string) bool {
	f.reloadIfChanged()
	s, ok := f.table.Load().users[user]
	return ok && s.plain() != nil
}

// SupportsAPOP reports whether any user can log in with APOP.
func (f *UsersFile) SupportsAPOP() bool {
	f.reloadIfChanged()
	return f.table.Load().anyPlain
}

// Len returns the number of users loaded.
func (f *UsersFile) Len() int { return len(f.table.Load().users) }
