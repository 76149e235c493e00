package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/session"
)

func TestImplicitTLS(t *testing.T) {
	var clientTLS *tls.Config
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { o.TLSConfig, clientTLS = testTLS(t) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go env.srv.ServeTLS(l)
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", l.Addr().String(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient(t, conn)
	c.expect("+OK pop.test POP3 ready*")
	c.send("CAPA")
	c.expect("+OK *")
	if caps := c.block(); strings.Contains(caps, "STLS") {
		t.Errorf("STLS offered on an implicit-TLS connection:\n%s", caps)
	}
	c.auth("+OK 3 messages*")
	c.send("QUIT")
	c.expect("+OK bye*")
	if line := env.sessionLines(t, 1)[0].ContextMap(); line["tls"] != "implicit" || line["result"] != session.ResultOK {
		t.Errorf("tls %v result %v, want implicit/ok", line["tls"], line["result"])
	}
}

func TestSTLSSessionLine(t *testing.T) {
	var clientTLS *tls.Config
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { o.TLSConfig, clientTLS = testTLS(t) })
	tr, err := pop3test.ParseTranscript("stls", []byte("S: +OK *\nC: STLS\nS: +OK *\nTLS\nC: QUIT\nS: +OK bye\nCLOSED\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr.Run(t, env.dial(t), clientTLS)
	if line := env.sessionLines(t, 1)[0].ContextMap(); line["tls"] != "stls" {
		t.Errorf("tls = %v, want stls", line["tls"])
	}
}

func TestServeTLSNeedsConfig(t *testing.T) {
	env := startServer(t, nil)
	if err := env.srv.ServeTLS(nil); err == nil {
		t.Error("ServeTLS without a TLS config succeeded")
	}
}

func proxyHeader(t testing.TB, conn net.Conn, src string) {
	t.Helper()
	h := &proxyproto.Header{
		Version:           2,
		Command:           proxyproto.PROXY,
		TransportProtocol: proxyproto.TCPv4,
		SourceAddr:        net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)),
		DestinationAddr:   net.TCPAddrFromAddrPort(netip.MustParseAddrPort("198.51.100.1:110")),
	}
	if _, err := h.WriteTo(conn); err != nil {
		t.Fatal(err)
	}
}

func TestProxyV2Trusted(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	conn := env.dial(t)
	proxyHeader(t, conn, "203.0.113.7:5555")
	c := newClient(t, conn)
	c.login()
	c.send("QUIT")
	c.expect("+OK bye*")
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["client"] != "203.0.113.7:5555" {
		t.Errorf("client = %v, want the address from the PROXY header", line["client"])
	}
	if line["via"] != conn.LocalAddr().String() {
		t.Errorf("via = %v, want the balancer %v", line["via"], conn.LocalAddr())
	}
	creds := fakeOpenerOf(env).Credentials()
	if len(creds) != 1 || creds[0].Client.String() != "203.0.113.7:5555" {
		t.Errorf("backend saw credentials %+v, want Client from the PROXY header", creds)
	}
}

func TestProxyTrustedWithoutHeader(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	conn := env.dial(t)
	c := newClient(t, conn)
	c.login() // the header is optional from a trusted peer
	c.send("QUIT")
	c.expect("+OK bye*")
	if line := env.sessionLines(t, 1)[0].ContextMap(); line["client"] != conn.LocalAddr().String() || line["via"] != "" {
		t.Errorf("client %v via %v, want the socket peer and no via", line["client"], line["via"])
	}
}

func TestProxyV2Untrusted(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	conn := env.dial(t)
	proxyHeader(t, conn, "203.0.113.7:5555")
	c := newClient(t, conn)
	c.expect("+OK *")
	c.send("USER bob")
	c.expectClosed()
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultProtocolError {
		t.Errorf("result = %v, want protocol_error", line["result"])
	}
	if e := line["error"].(string); !strings.Contains(e, "untrusted peer "+conn.LocalAddr().String()) {
		t.Errorf("error %q does not name the peer %v", e, conn.LocalAddr())
	}
	if line["client"] != conn.LocalAddr().String() {
		t.Errorf("client = %v, want the socket peer", line["client"])
	}
	if n := len(fakeOpenerOf(env).Credentials()); n != 0 {
		t.Errorf("backend was asked %d times", n)
	}
}

func TestProxyMalformedFromTrusted(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	conn := env.dial(t)
	conn.Write([]byte("PROXY TCP4 not-an-address\r\n"))
	c := newClient(t, conn)
	c.expect("+OK *")
	c.expectClosed()
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultProtocolError || !strings.Contains(line["error"].(string), "malformed PROXY header from 127.0.0.1:") {
		t.Errorf("result %v error %v", line["result"], line["error"])
	}
}

// TestGreetingDoesNotWaitForHeader: with PROXY protocol enabled, a client
// that waits for the greeting (as POP3 clients do) gets it at once.
func TestGreetingDoesNotWaitForHeader(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	conn := env.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), proxyHeaderTimeout/2)
	defer cancel()
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	buf := make([]byte, 64)
	if n, err := conn.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "+OK") {
		t.Fatalf("greeting: %q, %v (before the PROXY header timeout)", buf[:n], err)
	}
}

func TestProxyUntrustedImplicitTLS(t *testing.T) {
	var clientTLS *tls.Config
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.TLSConfig, clientTLS = testTLS(t)
		o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go env.srv.ServeTLS(l)
	conn, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	proxyHeader(t, conn, "203.0.113.7:5555")
	tc := tls.Client(conn, clientTLS)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err == nil {
		t.Fatal("TLS handshake succeeded after an untrusted PROXY header")
	}
	line := env.sessionLines(t, 1)[0].ContextMap()
	if line["result"] != session.ResultProtocolError || !strings.Contains(line["error"].(string), "untrusted peer") {
		t.Errorf("result %v error %v", line["result"], line["error"])
	}
}
