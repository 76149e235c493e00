package proxy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/session"
)

// TestStalledProxyHeaderCause: a trusted peer that starts a PROXY header and
// stalls is closed after the header timeout, and the session line says so
// rather than blaming an idle client.
func TestStalledProxyHeaderCause(t *testing.T) {
	for name, sent := range map[string]string{
		"signature": "\r\n\r\n\x00\r\nQUIT\n",
		"addresses": "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x01",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
				o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			})
			conn := env.dial(t)
			if _, err := conn.Write([]byte(sent)); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(3 * proxyHeaderTimeout))
			buf := make([]byte, 512)
			for {
				if _, err := conn.Read(buf); err != nil {
					if strings.Contains(err.Error(), "timeout") {
						t.Fatalf("connection still open after %s", 3*proxyHeaderTimeout)
					}
					break
				}
			}
			line := env.sessionLines(t, 1)[0].ContextMap()
			want := "PROXY header from 127.0.0.1:"
			if line["result"] != session.ResultTimeout || !strings.Contains(line["error"].(string), want) ||
				!strings.Contains(line["error"].(string), "not complete within 5s") {
				t.Errorf("result %v error %v, want timeout and %q", line["result"], line["error"], want)
			}
		})
	}
}
