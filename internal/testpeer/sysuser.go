package testpeer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// sysLockPath serialises changes to /etc/passwd and friends: test binaries
// of several packages run at once, and useradd fails rather than waits when
// another holds the lock.
const sysLockPath = "/run/lock/popgate-testpeer.lock"

// withSysLock runs fn holding the cross-process lock.
func withSysLock(fn func() error) error {
	if err := os.MkdirAll(filepath.Dir(sysLockPath), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(sysLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// systemUser is an account created for one test.
type systemUser struct {
	name     string
	uid, gid int
}

// uniqueUserName returns "pgt" and random hex: short enough for useradd,
// and never shared between test processes.
func uniqueUserName() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "pgt" + hex.EncodeToString(b)
}

// createSystemUser adds a login-less system user, with a password unless
// it is empty, in its own new group or, when group is set, in that one.
func createSystemUser(password, group string) (systemUser, error) {
	if strings.ContainsAny(password, ":\n") {
		return systemUser{}, fmt.Errorf("password may not contain ':' or newlines")
	}
	name := uniqueUserName()
	args := []string{"--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		"--comment", ownerComment(os.Getpid())}
	if group == "" {
		args = append(args, "--user-group")
	} else {
		args = append(args, "--no-user-group", "--gid", group)
	}
	err := withSysLock(func() error {
		if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %w: %s", name, err, out)
		}
		if password == "" {
			return nil
		}
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("chpasswd %s: %w: %s", name, err, out)
		}
		return nil
	})
	if err != nil {
		return systemUser{}, err
	}
	u, err := user.Lookup(name)
	if err != nil {
		return systemUser{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return systemUser{name: name, uid: uid, gid: gid}, nil
}

// deleteSystemUser removes the user and its group.
func deleteSystemUser(name string) error {
	return withSysLock(func() error {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			return fmt.Errorf("userdel %s: %w: %s", name, err, out)
		}
		return nil
	})
}

// lookupGroupID returns the numeric id of a group.
func lookupGroupID(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// userCommentPrefix marks the accounts this package creates; the pid after
// it tells whether the test process that owns one is still alive.
const userCommentPrefix = "popgate testpeer pid "

func ownerComment(pid int) string { return userCommentPrefix + strconv.Itoa(pid) }

// removeStaleUsers deletes accounts (and their spools) left behind by test
// processes that died without cleaning up. The caller holds the lock.
func removeStaleUsers() error {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 5 || !strings.HasPrefix(f[4], userCommentPrefix) {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(f[4], userCommentPrefix))
		if err != nil || processAlive(pid) {
			continue
		}
		if out, err := exec.Command("userdel", f[0]).CombinedOutput(); err != nil {
			return fmt.Errorf("userdel %s: %w: %s", f[0], err, out)
		}
		os.Remove("/var/mail/" + f[0])
	}
	return nil
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// SystemUser is a login-less account that lives as long as one test.
type SystemUser struct {
	Name     string
	UID, GID int
}

// NewSystemUser creates an account with a unique name, in its own new group
// or, when group is set, with that group (created if missing) as its only
// one. It is removed when the test ends. It needs root.
func NewSystemUser(t testing.TB, group string) SystemUser {
	t.Helper()
	RequireRoot(t, "creating system users")
	err := withSysLock(func() error {
		if err := removeStaleUsers(); err != nil {
			return err
		}
		if _, err := lookupGroupID(group); group == "" || err == nil {
			return nil
		}
		if out, err := exec.Command("groupadd", "--system", group).CombinedOutput(); err != nil {
			return fmt.Errorf("groupadd %s: %w: %s", group, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	su, err := createSystemUser("", group)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	t.Cleanup(func() {
		if err := deleteSystemUser(su.name); err != nil {
			t.Errorf("testpeer: %v", err)
		}
	})
	return SystemUser{Name: su.name, UID: su.uid, GID: su.gid}
}

// Credential runs a process as the user, with its group and no other.
func (u SystemUser) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}
}

// Chown gives paths to the user and group gid.
func (u SystemUser) Chown(t testing.TB, gid int, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, u.UID, gid); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
	}
}
