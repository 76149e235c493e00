package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testcert"
	"github.com/popgate/popgate/internal/testpeer"
)

// servedCert returns the certificate popgate presents on addr.
func servedCert(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

// loginReply logs in as alice in the clear and returns the reply to PASS.
func loginReply(t *testing.T, addr, pass string) string {
	t.Helper()
	rc := testpeer.Dial(t, addr)
	defer rc.Close()
	rc.OK("USER alice")
	rc.Send("PASS " + pass)
	r, err := rc.ReadLine()
	if err != nil {
		t.Fatalf("PASS: %v", err)
	}
	return r
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestReloadIsAllOrNothing: a reload puts a new key pair, users file and
// throttle settings (from POPGATE_ENV_FILE) in force together; with the
// key pair broken the old settings stay, "popgate reload" exits 1, and systemd is told
// RELOADING=1 and READY=1 each time.
func TestReloadIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	mkMaildir(t, filepath.Join(dir, "mail", "alice"), "hello")
	users, envFile := filepath.Join(dir, "users"), filepath.Join(dir, "popgate.env")
	writeFile(t, users, "alice:{PLAIN}one\n")
	writeFile(t, envFile, "# as systemd's EnvironmentFile\nPOPGATE_THROTTLE_AUTH_FAIL_LIMIT=50\n")
	first, second := testcert.New(t), testcert.New(t)
	certFile, keyFile := first.WriteFiles(t)

	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	states := func() string {
		t.Helper()
		var all []string
		buf := make([]byte, 4096)
		for {
			_ = notify.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := notify.Read(buf)
			if err != nil {
				return strings.Join(all, "|")
			}
			all = append(all, strings.Fields(string(buf[:n]))[0])
		}
	}

	environ := []string{
		"POPGATE_LISTEN=127.0.0.1:0", "POPGATE_LISTEN_TLS=127.0.0.1:0",
		"POPGATE_TLS_CERT=" + certFile, "POPGATE_TLS_KEY=" + keyFile,
		"POPGATE_BACKENDS=native=maildir://" + dir + "/mail/%u",
		"POPGATE_USERS_FILE=" + users, "POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0", "POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_THROTTLE_AUTH_FAIL_DELAY=1ms", "POPGATE_ENV_FILE=" + envFile,
		"NOTIFY_SOCKET=" + filepath.Join(dir, "notify"),
	}
	srv := startServer(t, environ, Hooks{})
	plain, secure := srv.addrs.Plain.String(), srv.addrs.TLS.String()
	if got := states(); got != "READY=1" {
		t.Errorf("at start systemd was told %q", got)
	}
	reload := func() (int, string) {
		var out, errOut bytes.Buffer
		env := append(append([]string(nil), environ...), "POPGATE_ADMIN_LISTEN="+srv.addrs.Admin.String())
		code := reloadCommand(context.Background(), env, &out, &errOut)
		return code, out.String() + errOut.String()
	}

	// All three change together.
	writeFile(t, certFile, string(second.CertPEM))
	writeFile(t, keyFile, string(second.KeyPEM))
	writeFile(t, users, "alice:{PLAIN}two:1000:1000::/home/alice::\n")
	writeFile(t, envFile, "POPGATE_THROTTLE_AUTH_FAIL_LIMIT=2\n")
	if code, out := reload(); code != exitOK {
		t.Fatalf("reload: exit %d: %s", code, out)
	}
	if !bytes.Equal(servedCert(t, secure), second.Server.Certificates[0].Certificate[0]) {
		t.Error("after the reload the old certificate is served")
	}
	if r := loginReply(t, plain, "two"); !strings.HasPrefix(r, "+OK") {
		t.Errorf("new password after the reload: %q", r)
	}
	// The new failed-login limit: two wrong passwords, then refused.
	for i, want := range []string{"-ERR [AUTH]", "-ERR [AUTH]", "-ERR [SYS/TEMP]"} {
		if r := loginReply(t, plain, "wrong"); !strings.HasPrefix(r, want) {
			t.Errorf("wrong password %d after the reload: %q, want %s", i+1, r, want)
		}
	}
	if got := states(); got != "RELOADING=1|READY=1" {
		t.Errorf("during the reload systemd was told %q", got)
	}

	// A broken key keeps everything as it was, and the reload fails. (The
	// users file is left alone: it is also re-read whenever it changes.)
	writeFile(t, keyFile, "not a key\n")
	writeFile(t, envFile, "POPGATE_THROTTLE_AUTH_FAIL_LIMIT=50\n")
	code, out := reload()
	if code != exitFailure || !strings.Contains(out, "TLS") {
		t.Errorf("broken reload: exit %d: %s", code, out)
	}
	if !bytes.Equal(servedCert(t, secure), second.Server.Certificates[0].Certificate[0]) {
		t.Error("after a failed reload the certificate changed")
	}
	// Still the limit of 2: with 50 this guess would be checked.
	if r := loginReply(t, plain, "wrong"); !strings.HasPrefix(r, "-ERR [SYS/TEMP]") {
		t.Errorf("after a failed reload, a guess past the old limit: %q", r)
	}
	if got := states(); got != "RELOADING=1|READY=1" {
		t.Errorf("during the failed reload systemd was told %q", got)
	}
}
