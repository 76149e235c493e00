package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/popgate/popgate/internal/testcert"
)

// testTLS returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func testTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	c := testcert.New(t)
	return c.Server, c.Pool
}
