package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testcert"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/loadgen"
)

// resumeClient connects twice with Python's ssl module, to argv[4] and then
// to argv[5], the second time offering the first session (session=), and
// prints session_reused of both connections. Over STLS it upgrades a plain
// session; either way it reads a reply after the handshake, which also takes
// in a TLS 1.3 ticket, and ends with QUIT.
const resumeClient = `
import socket, ssl, sys
mode, version, cafile, first, second = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
if version == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def connect(addr, session):
    host, port = addr.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=10)
    if mode == "stls":
        f = raw.makefile("rb")
        assert f.readline().startswith(b"+OK")
        raw.sendall(b"STLS\r\n")
        assert f.readline().startswith(b"+OK")
    t = ctx.wrap_socket(raw, server_hostname="pop.test", session=session)
    f = t.makefile("rb")
    if mode == "implicit":
        assert f.readline().startswith(b"+OK")
    t.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"+OK")
    reused, session = t.session_reused, t.session
    t.close()
    return reused, session
a, s = connect(first, None)
b, _ = connect(second, s)
print(a, b)
`

// pythonResumes runs resumeClient and returns its two session_reused values.
func pythonResumes(t *testing.T, ca, mode, version, first, second string) string {
	t.Helper()
	py := testpeer.Require(t, "python3")
	out, err := exec.Command(py, "-c", resumeClient, mode, version, ca, first, second).CombinedOutput()
	if err != nil {
		t.Fatalf("python %s TLS %s: %v\n%s", mode, version, err, out)
	}
	return strings.TrimSpace(string(out))
}

// sClient runs one openssl s_client session (implicit TLS, or STLS with
// starttls) that reads sessIn if set, saves its session to sessOut and
// quits, and reports whether the handshake resumed.
func sClient(t *testing.T, ca, addr string, starttls bool, sessIn, sessOut string) bool {
	t.Helper()
	args := []string{"s_client", "-connect", addr, "-servername", "pop.test", "-CAfile", ca, "-verify_return_error",
		"-crlf", "-ign_eof", "-sess_out", sessOut}
	if sessIn != "" {
		args = append(args, "-sess_in", sessIn)
	}
	if starttls {
		args = append(args, "-starttls", "pop3")
	}
	text := runSClient(t, args)
	if !strings.Contains(text, "+OK") || !strings.Contains(text, "Verify return code: 0") {
		t.Fatalf("openssl %s: no POP3 reply or an unverified certificate:\n%s", strings.Join(args, " "), text)
	}
	switch {
	case strings.Contains(text, "\nReused,"):
		return true
	case strings.Contains(text, "\nNew,"):
		return false
	}
	t.Fatalf("openssl: no session line:\n%s", text)
	return false
}

// ticketServer starts popgate with implicit TLS and STLS, the certificate
// files given and, if set, a ticket key file.
func ticketServer(t *testing.T, dir, certFile, keyFile, ticketFile string, extra ...string) *server {
	t.Helper()
	users := filepath.Join(dir, "users")
	if _, err := os.Stat(users); err != nil {
		mkMaildir(t, filepath.Join(dir, "mail", "alice"), "resumed")
		writeFile(t, users, "alice:{PLAIN}secret\n")
	}
	env := []string{
		"POPGATE_LISTEN=127.0.0.1:0", "POPGATE_LISTEN_TLS=127.0.0.1:0",
		"POPGATE_TLS_CERT=" + certFile, "POPGATE_TLS_KEY=" + keyFile,
		"POPGATE_BACKENDS=native=maildir://" + dir + "/mail/%u",
		"POPGATE_USERS_FILE=" + users, "POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0", "POPGATE_AUTH_FAIL_DELAY=0s",
	}
	if ticketFile != "" {
		env = append(env, "POPGATE_TLS_TICKET_KEY_FILE="+ticketFile)
	}
	return startServer(t, append(env, extra...), Hooks{})
}

// TestTLSResumption: Python's ssl and openssl s_client resume their
// sessions over implicit TLS and STLS, with TLS 1.3 and 1.2; a session
// survives a certificate reload, and resumes on a second instance that
// shares the ticket key file but not on one without it.
func TestTLSResumption(t *testing.T) {
	dir := t.TempDir()
	cert := testcert.New(t)
	certFile, keyFile := cert.WriteFiles(t)
	ca := filepath.Join(dir, "ca.pem")
	writeFile(t, ca, string(cert.CertPEM))
	ticketFile := filepath.Join(dir, "ticket.key")
	writeFile(t, ticketFile, strings.Repeat("7", 64)+"\n")
	one := ticketServer(t, dir, certFile, keyFile, ticketFile)
	two := ticketServer(t, dir, certFile, keyFile, ticketFile)
	alone := ticketServer(t, dir, certFile, keyFile, "")

	for _, version := range []string{"1.3", "1.2"} {
		for _, mode := range []string{"implicit", "stls"} {
			addr := func(s *server) string {
				if mode == "stls" {
					return s.addrs.Plain.String()
				}
				return s.addrs.TLS.String()
			}
			if got := pythonResumes(t, ca, mode, version, addr(one), addr(one)); got != "False True" {
				t.Errorf("python, %s, TLS %s, same instance: session_reused %s, want False True", mode, version, got)
			}
			if got := pythonResumes(t, ca, mode, version, addr(one), addr(two)); got != "False True" {
				t.Errorf("python, %s, TLS %s, instance sharing the key file: session_reused %s, want False True", mode, version, got)
			}
			if got := pythonResumes(t, ca, mode, version, addr(one), addr(alone)); got != "False False" {
				t.Errorf("python, %s, TLS %s, instance with its own keys: session_reused %s, want False False", mode, version, got)
			}
		}
	}

	// openssl s_client: a saved session resumes after the certificate is
	// replaced and reloaded, on both listeners and on the second instance.
	sess := func(name string) string { return filepath.Join(dir, name+".sess") }
	for _, starttls := range []bool{false, true} {
		addr := one.addrs.TLS.String()
		if starttls {
			addr = one.addrs.Plain.String()
		}
		name := fmt.Sprintf("starttls-%v", starttls)
		if sClient(t, ca, addr, starttls, "", sess(name)) {
			t.Errorf("s_client (starttls %v): the first handshake resumed", starttls)
		}
		if !sClient(t, ca, addr, starttls, sess(name), sess(name+"-again")) {
			t.Errorf("s_client (starttls %v): -sess_in did not resume", starttls)
		}
	}
	renewed := testcert.New(t)
	writeFile(t, certFile, string(renewed.CertPEM))
	writeFile(t, keyFile, string(renewed.KeyPEM))
	// A session that is not resumed is verified against the certificate
	// its instance serves: the new one here, the old one on the others.
	renewedCA := filepath.Join(dir, "renewed-ca.pem")
	writeFile(t, renewedCA, string(renewed.CertPEM))
	env := []string{"POPGATE_ADMIN_LISTEN=" + one.addrs.Admin.String()}
	var out bytes.Buffer
	if code := reloadCommand(context.Background(), env, &out, &out); code != exitOK {
		t.Fatalf("reload: exit %d: %s", code, out.String())
	}
	if !bytes.Equal(servedCert(t, one.addrs.TLS.String()), renewed.Server.Certificates[0].Certificate[0]) {
		t.Fatal("the reload did not put the new certificate in force")
	}
	if !sClient(t, renewedCA, one.addrs.TLS.String(), false, sess("starttls-false"), sess("after-reload")) {
		t.Error("s_client: a session from before the certificate reload did not resume after it")
	}
	if !sClient(t, renewedCA, one.addrs.Plain.String(), true, sess("starttls-true"), sess("after-reload-stls")) {
		t.Error("s_client (STLS): a session from before the certificate reload did not resume after it")
	}
	if !sClient(t, ca, two.addrs.TLS.String(), false, sess("after-reload"), sess("on-two")) {
		t.Error("s_client: no resumption on the instance sharing the key file")
	}
	if sClient(t, ca, alone.addrs.TLS.String(), false, sess("after-reload"), sess("on-alone")) {
		t.Error("s_client: resumed on an instance with its own keys")
	}
}

// TestTicketSecretReload: a new secret in the key file, put in force by a
// reload, invalidates the tickets of the old one; a bad file fails the
// reload and keeps the keys in force.
func TestTicketSecretReload(t *testing.T) {
	dir := t.TempDir()
	cert := testcert.New(t)
	certFile, keyFile := cert.WriteFiles(t)
	ticketFile := filepath.Join(dir, "ticket.key")
	writeFile(t, ticketFile, strings.Repeat("a", 64))
	srv := ticketServer(t, dir, certFile, keyFile, ticketFile)
	// One session cache for every run below, as a client polling again
	// keeps it.
	client := cert.Client()
	client.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	o := loadgen.Options{Addr: srv.addrs.TLS.String(), TLS: true, TLSResume: true, TLSConfig: client,
		Users: []loadgen.Credential{{User: "alice", Password: "secret"}}, Sessions: 4, Timeout: 10 * time.Second,
		Script: []loadgen.Step{{Op: "STAT"}}}
	run := func() *loadgen.Report {
		t.Helper()
		rep, err := loadgen.Run(context.Background(), o)
		if err != nil || rep.OK != o.Sessions {
			t.Fatalf("popbench: %v, %+v", err, rep)
		}
		return rep
	}
	if rep := run(); rep.TLSResumed != 3 {
		t.Fatalf("%d of 4 sessions resumed, want 3 (all but the first)", rep.TLSResumed)
	}
	reload := func() (int, string) {
		var out bytes.Buffer
		code := reloadCommand(context.Background(), []string{"POPGATE_ADMIN_LISTEN=" + srv.addrs.Admin.String()}, &out, &out)
		return code, out.String()
	}
	writeFile(t, ticketFile, "short\n")
	if code, out := reload(); code != exitFailure || !strings.Contains(out, "POPGATE_TLS_TICKET_KEY_FILE") {
		t.Errorf("reload with a short secret: exit %d: %s", code, out)
	}
	if rep := run(); rep.TLSResumed != 4 {
		t.Errorf("after a failed reload %d of 4 sessions resumed, want 4", rep.TLSResumed)
	}
	writeFile(t, ticketFile, strings.Repeat("b", 64))
	if code, out := reload(); code != exitOK {
		t.Fatalf("reload: exit %d: %s", code, out)
	}
	if rep := run(); rep.TLSResumed != 3 {
		t.Errorf("after a new secret %d of 4 sessions resumed, want 3 (the first makes a full handshake)", rep.TLSResumed)
	}
}

// runSClient runs openssl with args and QUIT as its input, and returns
// what it printed.
func runSClient(t *testing.T, args []string) string {
	t.Helper()
	bin := testpeer.Require(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader("QUIT\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
