package proxy

import (
	"crypto/tls"
	"testing"

	"github.com/popgate/popgate/internal/testcert"
)

// testTLS returns a server config with a certificate made for this test,
// and a client config that trusts it.
func testTLS(t testing.TB) (*tls.Config, *tls.Config) {
	t.Helper()
	c := testcert.New(t)
	return c.Server, c.Client()
}
