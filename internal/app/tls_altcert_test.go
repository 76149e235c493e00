package app

import (
	"crypto/rand"
	"crypto/rsa"
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

// TestServeTwoKeyPairs serves an ECDSA key pair and an RSA one: a client
// that can verify ECDSA gets the ECDSA certificate (the cheaper handshake),
// one that accepts only RSA signatures gets the RSA certificate, over
// implicit TLS and STLS, with Go's client and with openssl s_client.
func TestServeTwoKeyPairs(t *testing.T) {
	dir := t.TempDir()
	ecCert, ecKey := testcert.New(t).WriteFiles(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaCert, rsaKeyFile := testcert.NewWithKey(t, rsaKey).WriteFiles(t)
	mkMaildir(t, filepath.Join(dir, "mail", "alice"), "two pairs")
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_LISTEN_TLS=127.0.0.1:0",
		"POPGATE_TLS_CERT=" + ecCert,
		"POPGATE_TLS_KEY=" + ecKey,
		"POPGATE_TLS_ALT_CERT=" + rsaCert,
		"POPGATE_TLS_ALT_KEY=" + rsaKeyFile,
		"POPGATE_BACKENDS=native=maildir://" + dir + "/mail/%u",
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"POPGATE_AUTH_FAIL_DELAY=0s",
	}, Hooks{})

	// Go's client: by default ECDSA; limited to TLS 1.2 with an RSA
	// cipher suite, RSA.
	keyType := func(cfg *tls.Config) x509.PublicKeyAlgorithm {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.addrs.TLS.String(), cfg)
		if err != nil {
			t.Fatalf("implicit TLS: %v", err)
		}
		rc := testpeer.Wrap(t, c)
		rc.OK("") // greeting
		if got := subjectOf(t, rc); got != "two pairs" {
			t.Errorf("subject %q", got)
		}
		return c.ConnectionState().PeerCertificates[0].PublicKeyAlgorithm
	}
	if got := keyType(&tls.Config{InsecureSkipVerify: true}); got != x509.ECDSA {
		t.Errorf("a client that verifies ECDSA got a %v certificate", got)
	}
	rsaOnly := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	if got := keyType(rsaOnly); got != x509.RSA {
		t.Errorf("a client limited to RSA got a %v certificate", got)
	}

	// openssl s_client, over implicit TLS and STLS, with and without a
	// list of signature algorithms that leaves out ECDSA.
	for _, starttls := range []bool{false, true} {
		addr := srv.addrs.TLS.String()
		if starttls {
			addr = srv.addrs.Plain.String()
		}
		if got := sClientKeyBits(t, addr, starttls); got != "256" {
			t.Errorf("openssl (starttls %v) got a %s-bit key, want ECDSA P-256", starttls, got)
		}
		if got := sClientKeyBits(t, addr, starttls, "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"); got != "2048" {
			t.Errorf("openssl with RSA signatures only (starttls %v) got a %s-bit key, want RSA 2048", starttls, got)
		}
	}
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
}

// sClientKeyBits runs one openssl s_client session and returns the size
// in bits of the public key of the certificate the server sent.
func sClientKeyBits(t *testing.T, addr string, starttls bool, extra ...string) string {
	t.Helper()
	args := append([]string{"s_client", "-connect", addr, "-crlf", "-ign_eof"}, extra...)
	if starttls {
		args = append(args, "-starttls", "pop3")
	}
	text := runSClient(t, args)
	for line := range strings.Lines(text) {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "Server public key is "); ok {
			return strings.TrimSuffix(s, " bit")
		}
	}
	t.Fatalf("openssl %s: no public key line:\n%s", strings.Join(args, " "), text)
	return ""
}
