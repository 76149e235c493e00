package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// DovecotOptions configures a private Dovecot POP3 server.
type DovecotOptions struct {
	Users []User
	// Maildir stores mail in ~/Maildir instead of the mbox ~/inbox.
	Maildir bool
	// ReuseXUIDL serves stored X-UIDL headers as UIDLs (pop3_reuse_xuidl),
	// like a qpopper spool migrated to Dovecot.
	ReuseXUIDL bool
	// TLS enables STLS on the plain port and implicit TLS on Server.TLSAddr
	// with these files (see NewTLSFiles); nil means no TLS at all.
	TLS *TLSFiles
	// APOP enables the APOP and CRAM-MD5 mechanisms, which check digests
	// against the plaintext passwords; the greeting carries a timestamp.
	APOP bool
	// HAProxy adds a listener on Server.HAProxyAddr that expects a PROXY
	// header from 127.0.0.1 (haproxy_trusted_networks), so that Dovecot
	// sees and penalises the real client address, not the relay's.
	HAProxy bool
	// Extra is raw configuration appended to the generated file.
	Extra string
}

// StartDovecot starts a private Dovecot serving POP3 on a free 127.0.0.1
// port: USER/PASS and SASL PLAIN/LOGIN, TLS only with o.TLS, no delay after
// a failed login. It stops when the test ends, and its log is printed if
// the test failed.
func StartDovecot(t testing.TB, o DovecotOptions) *Server {
	t.Helper()
	bin := Require(t, "dovecot")
	owner, err := mailOwner()
	if err != nil {
		t.Fatalf("testpeer: dovecot: %v", err)
	}
	base := SharedTempDir(t)
	st := &dovecotStore{base: base, maildir: o.Maildir, owner: owner}
	runDir := shortTempDir(t)
	for _, dir := range []string{"state", "home"} {
		if err := os.Mkdir(filepath.Join(base, dir), 0o755); err != nil {
			t.Fatalf("testpeer: dovecot: %v", err)
		}
	}
	if err := writePasswd(filepath.Join(base, "passwd"), o.Users, st); err != nil {
		t.Fatalf("testpeer: dovecot: %v", err)
	}
	for _, u := range o.Users {
		if err := st.createHome(u.Name); err != nil {
			t.Fatalf("testpeer: dovecot: home of %s: %v", u.Name, err)
		}
		if err := st.setMbox(u.Name, u.Mbox); err != nil {
			t.Fatalf("testpeer: dovecot: mailbox of %s: %v", u.Name, err)
		}
	}
	logPath := filepath.Join(base, "dovecot.log")
	logOnFailure(t, "dovecot", logPath)

	tlsPort, haproxyPort := 0, 0
	addr, d := startOnFreePort(t, "dovecot", logPath, func(port int) (*exec.Cmd, error) {
		var err error
		if o.TLS != nil {
			if tlsPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		if o.HAProxy {
			if haproxyPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		conf := filepath.Join(base, "dovecot.conf")
		if err := os.WriteFile(conf, []byte(dovecotConf(base, runDir, port, tlsPort, haproxyPort, o, owner)), 0o644); err != nil {
			return nil, err
		}
		return exec.Command(bin, "-F", "-c", conf), nil
	})
	srv := &Server{Addr: addr, Name: "dovecot", store: st, stop: d.stop}
	if tlsPort != 0 {
		srv.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tlsPort)
	}
	if haproxyPort != 0 {
		srv.HAProxyAddr = fmt.Sprintf("127.0.0.1:%d", haproxyPort)
	}
	return srv
}

// dovecotConf is a complete, self-contained configuration: nothing from
// /etc/dovecot is read, and every path is under base or runDir.
func dovecotConf(base, runDir string, port, tlsPort, haproxyPort int, o DovecotOptions, owner mailUser) string {
	location := "mbox:~/mail:INBOX=~/inbox"
	if o.Maildir {
		location = "maildir:~/Maildir"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `base_dir = %[8]s
state_dir = %[1]s/state
instance_name = testpeer-%[2]d
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
protocols = pop3
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login%[9]s
auth_failure_delay = 0
default_internal_user = %[3]s
default_internal_group = %[4]s
default_login_user = %[3]s
first_valid_uid = 1
first_valid_gid = 1
mail_location = %[5]s
mbox_write_locks = fcntl
pop3_reuse_xuidl = %[6]s
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = %[7]d
    ssl = yes
  }
}
`, base, port, owner.name, owner.group, location, yesNo(o.ReuseXUIDL), tlsPort, runDir, apopMechanism(o.APOP))
	if o.TLS != nil {
		fmt.Fprintf(&b, "ssl = yes\nssl_cert = <%s\nssl_key = <%s\n", o.TLS.CertFile, o.TLS.KeyFile)
	} else {
		b.WriteString("ssl = no\n")
	}
	if haproxyPort != 0 {
		fmt.Fprintf(&b, "haproxy_trusted_networks = 127.0.0.1\nservice pop3-login {\n  inet_listener pop3-haproxy {\n    address = 127.0.0.1\n    port = %d\n    haproxy = yes\n  }\n}\n", haproxyPort)
	}
	b.WriteString("service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n}\n")
	b.WriteString(o.Extra)
	b.WriteString("\n")
	return b.String()
}

// apopMechanism is what o.APOP adds to auth_mechanisms.
func apopMechanism(on bool) string {
	if on {
		return " apop cram-md5"
	}
	return ""
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// mailUser is the system account that owns the test mailboxes and that
// Dovecot's unprivileged processes run as.
type mailUser struct {
	name, group string
	uid, gid    int
}

// mailOwner picks nobody:nogroup as root (Dovecot refuses uid 0 for mail),
// or the current user otherwise.
func mailOwner() (mailUser, error) {
	name := "nobody"
	if os.Geteuid() != 0 {
		cur, err := user.Current()
		if err != nil {
			return mailUser{}, err
		}
		name = cur.Username
	}
	u, err := user.Lookup(name)
	if err != nil {
		return mailUser{}, err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return mailUser{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return mailUser{name: u.Username, group: g.Name, uid: uid, gid: gid}, nil
}

// SharedTempDir returns a fresh t.TempDir that other users can traverse, so
// that unprivileged processes (Dovecot's, a service user's) reach what is
// inside it.
func SharedTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
	}
	return dir
}

// shortTempDir returns a new directory with a short path, removed when the
// test ends: Dovecot's sockets live there, and a socket path may not exceed
// 107 bytes, which a t.TempDir under a long test name does.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgt")
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	return dir
}

func writePasswd(path string, users []User, st *dovecotStore) error {
	var b strings.Builder
	for _, u := range users {
		if strings.ContainsAny(u.Name+u.Password, ":\n") {
			return fmt.Errorf("user %q: name and password may not contain ':' or newlines", u.Name)
		}
		fmt.Fprintf(&b, "%s:%s:%d:%d::%s::\n", u.Name, u.Password, st.owner.uid, st.owner.gid, st.home(u.Name))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
