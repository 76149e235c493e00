package testpeer

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deliverer stores messages in one maildrop with a real delivery agent: an
// mbox spool, or a Maildir when the path ends in "/" (as procmail reads
// its DEFAULT). Each agent takes an mbox spool's dotlock and fcntl lock in
// its own order, which is what a POP server sharing the spool must cope
// with; into a Maildir each writes a file in tmp/ and renames it into new/.
// The agent runs as owner, the maildrop's owner, or as the test's user when
// owner is nil.
type Deliverer struct {
	Name    string
	deliver func(ctx context.Context, msg []byte) error
}

// Deliver stores msg (headers and body with LF line ends, no From_ line)
// and returns once the agent reports it stored.
func (d *Deliverer) Deliver(ctx context.Context, msg []byte) error {
	if err := d.deliver(ctx, msg); err != nil {
		return fmt.Errorf("%s: %w", d.Name, err)
	}
	return nil
}

// DovecotLDA delivers with Debian's dovecot-lda, one process per message,
// configured for the spool as INBOX with mbox_write_locks = fcntl dotlock
// (fcntl first), or for the Maildir as its mail root. Its indexes (and an
// mbox's mailbox root) live in a directory of their own that owner must be
// able to write, so that a Maildir holds nothing but messages.
func DovecotLDA(t testing.TB, spool string, owner *SystemUser) *Deliverer {
	t.Helper()
	bin := Require(t, "dovecot-lda")
	root := SharedTempDir(t)
	chownTo(t, owner, root)
	conf := filepath.Join(root, "lda.conf")
	location := fmt.Sprintf("mbox:%s/mail:INBOX=%s", root, spool)
	if isMaildir(spool) {
		location = fmt.Sprintf("maildir:%s:INDEX=%[2]s/index:CONTROL=%[2]s/control", spool, root)
	}
	err := os.WriteFile(conf, fmt.Appendf(nil, `base_dir = %[1]s/run
log_path = /dev/stderr
info_log_path = /dev/null
first_valid_uid = 1
first_valid_gid = 1
mail_location = %[2]s
mbox_write_locks = fcntl dotlock
postmaster_address = postmaster@localhost
ssl = no
`, root, location), 0o644)
	if err != nil {
		t.Fatalf("testpeer: dovecot-lda: %v", err)
	}
	env := []string{"HOME=" + root, "USER=" + agentUser(t, owner)}
	return &Deliverer{Name: "dovecot-lda", deliver: func(ctx context.Context, msg []byte) error {
		return runAgent(ctx, owner, env, msg, bin, "-c", conf, "-f", "sender@localhost")
	}}
}

// Procmail delivers with procmail, one process per message, to DEFAULT:
// into an mbox the dotlock SPOOL.lock first, then an fcntl lock on the
// opened file; into a Maildir (DEFAULT ending in "/") without locks.
// LOCKSLEEP is one second (its default is eight) and LOCKTIMEOUT stays at
// its default, so a stale lock left by a killed process waits for whoever
// breaks it. As a filter (-m) procmail writes the message as it gets it, so
// it is given a From_ line, as an MTA does.
func Procmail(t testing.TB, spool string, owner *SystemUser) *Deliverer {
	t.Helper()
	bin := Require(t, "procmail")
	dir := SharedTempDir(t)
	rc := filepath.Join(dir, "procmailrc")
	// procmail refuses an rcfile that others can write, not one they read.
	if err := os.WriteFile(rc, fmt.Appendf(nil, "DEFAULT=%s\nLOCKSLEEP=1\n", spool), 0o644); err != nil {
		t.Fatalf("testpeer: procmail: %v", err)
	}
	chownTo(t, owner, dir, rc)
	env := []string{"HOME=" + dir}
	return &Deliverer{Name: "procmail", deliver: func(ctx context.Context, msg []byte) error {
		from := "From sender@localhost " + time.Now().UTC().Format(time.ANSIC) + "\n"
		return runAgent(ctx, owner, env, append([]byte(from), msg...), bin, "-m", rc)
	}}
}

//go:embed mailbox_deliver.py
var mailboxDeliverScript []byte

// PythonMailbox delivers with Python's mailbox module from one long-running
// process (see mailbox_deliver.py): mailbox.mbox keeps the spool open
// across deliveries and locks it fcntl first, then dotlock, for each
// message; mailbox.Maildir adds each message through tmp/. The spool, or
// the Maildir with its new/, cur/ and tmp/, must exist.
func PythonMailbox(t testing.TB, spool string, owner *SystemUser) *Deliverer {
	t.Helper()
	python := Require(t, "python3")
	dir := SharedTempDir(t)
	name := "mailbox.mbox"
	if isMaildir(spool) {
		name = "mailbox.Maildir"
	}
	script := filepath.Join(dir, "mailbox_deliver.py")
	if err := os.WriteFile(script, mailboxDeliverScript, 0o644); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cmd := exec.Command(python, "-u", script, spool)
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "LC_ALL=C.UTF-8"}
	cmd.SysProcAttr = agentAttr(owner)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testpeer: %s: %v", name, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("testpeer: %s deliverer: %v\n%s", name, err, stderr.Bytes())
		}
	})
	replies := bufio.NewReader(stdout)
	var mu sync.Mutex
	return &Deliverer{Name: name, deliver: func(ctx context.Context, msg []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if _, err := fmt.Fprintf(stdin, "%d\n%s", len(msg), msg); err != nil {
			return err
		}
		line, err := replies.ReadString('\n')
		if err != nil || line != "ok\n" {
			return fmt.Errorf("answered %q, %v\n%s", line, err, stderr.Bytes())
		}
		return nil
	}}
}

// isMaildir reports whether path names a Maildir rather than an mbox spool.
func isMaildir(path string) bool { return strings.HasSuffix(path, "/") }

// runAgent runs one delivery with msg on stdin.
func runAgent(ctx context.Context, owner *SystemUser, env []string, msg []byte, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = "/"
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}, env...)
	cmd.SysProcAttr = agentAttr(owner)
	cmd.Stdin = bytes.NewReader(msg)
	// An agent stopped mid-delivery must remove its dotlock, which holds
	// no pid that others could check: SIGTERM lets it, SIGKILL would not.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

func agentAttr(owner *SystemUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if owner != nil {
		attr.Credential = owner.Credential()
	}
	return attr
}

// agentUser returns the login name the agent runs as.
func agentUser(t testing.TB, owner *SystemUser) string {
	t.Helper()
	if owner != nil {
		return owner.Name
	}
	cur, err := user.Current()
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	return cur.Username
}

// chownTo gives paths to owner, if any.
func chownTo(t testing.TB, owner *SystemUser, paths ...string) {
	t.Helper()
	if owner != nil {
		owner.Chown(t, owner.GID, paths...)
	}
}
