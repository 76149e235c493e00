package app

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testcert"
	"github.com/popgate/popgate/internal/testpeer"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key, and
// returns their paths and a pool that trusts the certificate.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	c := testcert.New(t)
	certFile, keyFile = c.WriteFiles(t)
	return certFile, keyFile, c.Pool
}

// TestServeTLS serves implicit TLS and STLS with the configured key pair,
// and, under POPGATE_REQUIRE_TLS, refuses a login in the clear from a
// client that a trusted balancer announces with a PROXY header (loopback
// clients themselves are exempt).
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	mkMaildir(t, filepath.Join(dir, "mail", "alice"), "over tls")
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := writeCert(t)
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_LISTEN_TLS=127.0.0.1:0",
		"POPGATE_TLS_CERT=" + certFile,
		"POPGATE_TLS_KEY=" + keyFile,
		"POPGATE_REQUIRE_TLS=true",
		"POPGATE_PROXY_PROTOCOL_FROM=127.0.0.1",
		"POPGATE_BACKENDS=native=maildir://" + dir + "/mail/%u",
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"POPGATE_AUTH_FAIL_DELAY=0s",
	}, Hooks{})
	if srv.addrs.TLS == nil || srv.addrs.Plain == nil {
		t.Fatalf("listeners: %+v", srv.addrs)
	}
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	// Implicit TLS: the handshake verifies against the configured certificate.
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", srv.addrs.TLS.String(), tlsCfg)
	if err != nil {
		t.Fatalf("implicit TLS: %v", err)
	}
	rc := testpeer.Wrap(t, c)
	rc.OK("") // greeting
	if got := subjectOf(t, rc); got != "over tls" {
		t.Errorf("implicit TLS: subject %q", got)
	}

	// Plain, through a "balancer": USER is refused before STLS, accepted after it.
	p, err := net.DialTimeout("tcp", srv.addrs.Plain.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rp := testpeer.Wrap(t, p)
	rp.Send("PROXY TCP4 192.0.2.1 127.0.0.1 40000 110")
	rp.OK("") // greeting
	// USER is refused until the session is encrypted.
	rp.Expect("USER alice", "-ERR")
	rp.StartTLS(tlsCfg)
	if got := subjectOf(t, rp); got != "over tls" {
		t.Errorf("STLS: subject %q", got)
	}
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := srv.stdout.Lines(t, "session")
	if len(lines) != 2 {
		t.Fatalf("%d session lines:\n%s", len(lines), srv.stdout.String())
	}
	byTLS := map[any]map[string]any{}
	for _, l := range lines {
		byTLS[l["tls"]] = l
	}
	if l := byTLS["implicit"]; l == nil || l["result"] != "ok" {
		t.Errorf("implicit session: %v", l)
	}
	if l := byTLS["stls"]; l == nil || l["client"] != "192.0.2.1:40000" || !strings.HasPrefix(l["via"].(string), "127.0.0.1:") {
		t.Errorf("STLS session via the balancer: %v", l)
	}
}

// subjectOf logs in as alice over rc, returns message 1's subject and
// quits.
func subjectOf(t *testing.T, rc *testpeer.Raw) string {
	t.Helper()
	rc.OK("USER alice")
	rc.OK("PASS secret")
	subject := ""
	for line := range strings.Lines(string(rc.Block("RETR 1"))) {
		if s, ok := strings.CutPrefix(line, "Subject: "); ok {
			subject = strings.TrimSpace(s)
		}
	}
	rc.Quit()
	return subject
}
