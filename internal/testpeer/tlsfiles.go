package testpeer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/popgate/popgate/internal/testcert"
)

// TLSFiles are PEM files of a throwaway certificate for 127.0.0.1, ::1 and
// localhost, and of the CA a client trusts to accept it (the certificate is
// self-signed, so both hold the same one).
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// NewTLSFiles writes a fresh certificate from testcert into a temporary
// directory readable by the servers' unprivileged processes.
func NewTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	c := testcert.New(t)
	dir := SharedTempDir(t)
	files := TLSFiles{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "cert.pem"),
		KeyFile:  filepath.Join(dir, "key.pem"),
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{files.CAFile, c.CertPEM, 0o644},
		{files.CertFile, c.CertPEM, 0o644},
		{files.KeyFile, c.KeyPEM, 0o600},
	} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			t.Fatalf("testpeer: tls: %v", err)
		}
	}
	return files
}
