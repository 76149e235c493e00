package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// popa3dPAM is the PAM service the Debian package ships.
const popa3dPAM = "# PAM configuration for popa3d\n\n@include common-auth\n@include common-account\n"

// StartPopa3d starts the real popa3d (inetd style, under socat) on a free
// 127.0.0.1 port. Each User becomes a system user with a unique generated
// name (see Server.Login) and the mbox /var/mail/NAME; all are removed when
// the test ends. It needs root.
func StartPopa3d(t testing.TB, users []User) *Server {
	t.Helper()
	RequireRoot(t, "popa3d (system users, chroot)")
	bin := Require(t, "popa3d")
	socat := Require(t, "socat")
	if err := withSysLock(setupPopa3d); err != nil {
		t.Fatalf("testpeer: popa3d setup: %v", err)
	}
	mailGID, err := lookupGroupID("mail")
	if err != nil {
		t.Fatalf("testpeer: popa3d: group mail: %v", err)
	}
	st := &spoolStore{mailGID: mailGID, uids: map[string]int{}}
	logins := map[string]string{}
	for _, u := range users {
		su, err := createSystemUser(u.Password, "")
		if err != nil {
			t.Fatalf("testpeer: popa3d: user %s: %v", u.Name, err)
		}
		t.Cleanup(func() {
			os.Remove(st.mboxPath(su.name))
			if err := deleteSystemUser(su.name); err != nil {
				t.Errorf("testpeer: popa3d: %v", err)
			}
		})
		logins[u.Name] = su.name
		st.uids[su.name] = su.uid
		if err := st.setMbox(su.name, u.Mbox); err != nil {
			t.Fatalf("testpeer: popa3d: mailbox of %s: %v", u.Name, err)
		}
	}

	logPath := filepath.Join(t.TempDir(), "socat.log")
	logOnFailure(t, "popa3d/socat", logPath)
	addr, d := startOnFreePort(t, "popa3d", logPath, func(port int) (*exec.Cmd, error) {
		listen := fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", port)
		// -d -d logs each connection, which is all there is to see:
		// popa3d itself logs to syslog.
		return exec.Command(socat, "-d", "-d", listen, "EXEC:"+bin+",nofork"), nil
	})
	return &Server{Addr: addr, Name: "popa3d", logins: logins, store: st, stop: d.stop}
}

// setupPopa3d creates what the Debian package's postinst would: the
// popa3d user, its empty chroot directory and the PAM service. It is
// idempotent, so a developer machine needs only the extracted binary.
func setupPopa3d() error {
	if err := removeStaleUsers(); err != nil {
		return err
	}
	if _, err := lookupGroupID("popa3d"); err != nil {
		out, err := exec.Command("adduser", "--system", "--group", "--no-create-home",
			"--home", "/var/lib/popa3d", "popa3d").CombinedOutput()
		if err != nil && !strings.Contains(string(out), "already exists") {
			// adduser is not in every minimal image; useradd is.
			out2, err2 := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
				"--home-dir", "/var/lib/popa3d", "--shell", "/usr/sbin/nologin", "popa3d").CombinedOutput()
			if err2 != nil {
				return fmt.Errorf("create user popa3d: %v: %s / %v: %s", err, out, err2, out2)
			}
		}
	}
	if err := os.MkdirAll("/var/lib/popa3d", 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll("/var/mail", 0o2775); err != nil {
		return err
	}
	if _, err := os.Stat("/etc/pam.d/popa3d"); os.IsNotExist(err) {
		return os.WriteFile("/etc/pam.d/popa3d", []byte(popa3dPAM), 0o644)
	}
	return nil
}

// spoolStore writes /var/mail/NAME as a delivery agent would.
type spoolStore struct {
	mailGID int
	uids    map[string]int
}

func (s *spoolStore) mboxPath(login string) string { return filepath.Join("/var/mail", login) }

func (s *spoolStore) setMbox(login string, mbox []byte) error {
	return writeOwned(s.mboxPath(login), mbox, 0o600, s.uids[login], s.mailGID)
}

func (s *spoolStore) deliver(login string, msg []byte) error {
	return appendMbox(s.mboxPath(login), msg, s.uids[login], s.mailGID)
}
