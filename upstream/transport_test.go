package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/pires/go-proxyproto"
	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// The PROXY v2 header carries the client's addresses; without a known
// client address it says LOCAL rather than passing popgate's own address
// off as the client's.
func TestProxyProtocolHeader(t *testing.T) {
	withClient := testCreds()
	noClient := testCreds()
	noClient.Client, noClient.Local = nil, nil
	for name, cr := range map[string]pop3.Credentials{"client": withClient, "no client": noClient} {
		t.Run(name, func(t *testing.T) {
			got := make(chan *proxyproto.Header, 1)
			addr := startFake(t, func(s *pop3test.Conn) {
				h, err := proxyproto.Read(s.Reader())
				if err != nil {
					t.Errorf("fake server: reading PROXY header: %v", err)
					return
				}
				got <- h
				if login(s) {
					s.ExpectEOF()
				}
			})
			o := testOptions(addr)
			o.ProxyProtocol = true
			m, err := New(o).Open(context.Background(), cr)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			m.Close()
			h := <-got
			if cr.Client == nil {
				if h.Command != proxyproto.LOCAL {
					t.Errorf("header command %v, want LOCAL", h.Command)
				}
				return
			}
			if h.Version != 2 || h.Command != proxyproto.PROXY {
				t.Errorf("header version %d command %v, want v2 PROXY", h.Version, h.Command)
			}
			src, dst, ok := h.TCPAddrs()
			if !ok || src.String() != cr.Client.String() || dst.String() != cr.Local.String() {
				t.Errorf("header addresses %v -> %v, want %v -> %v", src, dst, cr.Client, cr.Local)
			}
		})
	}
}

func TestImplicitTLS(t *testing.T) {
	serverCfg, roots := testTLS(t)
	addr := startFake(t, func(s *pop3test.Conn) {
		if s, ok := s.Handshake(serverCfg); ok && login(s) {
			s.Expect("QUIT")
			s.Send("+OK")
		}
	})
	o := testOptions(addr)
	o.TLS = true
	o.TLSConfig = &tls.Config{RootCAs: roots} // ServerName comes from Addr
	m, err := New(o).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open over TLS: %v", err)
	}
	if _, err := m.Update(context.Background()); err != nil {
		t.Errorf("Update: %v", err)
	}
}

func TestImplicitTLSUntrustedCertificate(t *testing.T) {
	serverCfg, _ := testTLS(t)
	addr := startFake(t, func(s *pop3test.Conn) {
		tls.Server(s.NetConn(), serverCfg).Handshake() // fails on the client's alert
	})
	o := testOptions(addr)
	o.TLS = true // system roots do not know the test certificate
	_, err := New(o).Open(context.Background(), testCreds())
	wantCode(t, err, pop3.CodeSysTemp)
}

func TestSTLSUpgrade(t *testing.T) {
	serverCfg, roots := testTLS(t)
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK ready")
		s.Expect("CAPA")
		s.Send("+OK", "STLS", "SASL PLAIN", ".")
		s, ok := s.StartTLS(serverCfg)
		if !ok {
			return
		}
		// Capabilities are asked again; this time USER is offered.
		s.Expect("CAPA")
		s.Send("+OK", "USER", "TOP", "UIDL", ".")
		s.Expect("USER alice")
		s.Send("+OK")
		s.Expect("PASS se cret")
		s.Send("+OK")
		s.Expect("STAT")
		s.Send("+OK 0 0")
		s.ExpectEOF()
	})
	o := testOptions(addr)
	o.STLS = true
	o.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "localhost"}
	m, err := New(o).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open with STLS: %v", err)
	}
	m.Close()
}

// With the capabilities cached, STLS follows the greeting and the login
// follows the handshake, with no CAPA on either side of it.
func TestSTLSCachedCaps(t *testing.T) {
	serverCfg, roots := testTLS(t)
	session := func(capa bool) func(s *pop3test.Conn) {
		return func(s *pop3test.Conn) {
			s.Send("+OK ready")
			if capa && s.Expect("CAPA") {
				s.Send("+OK", "STLS", ".")
			}
			s, ok := s.StartTLS(serverCfg)
			if !ok {
				return
			}
			if capa && s.Expect("CAPA") {
				s.Send("+OK", "USER", "PIPELINING", ".")
			}
			if pipelinedLogin(s, "+OK", "+OK", "+OK 0 0") {
				s.ExpectEOF()
			}
		}
	}
	o := testOptions(startScripts(t, session(true), session(false)))
	o.STLS = true
	o.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "localhost"}
	b := New(o)
	want := caps{known: true, user: true, pipe: true}
	for range 2 {
		if m := openClose(t, b); m.caps != want {
			t.Errorf("caps = %+v, want those after TLS, %+v", m.caps, want)
		}
	}
}

// Plaintext the server sends after its STLS +OK must never be read as if
// it had arrived over TLS.
func TestSTLSRefusesInjectedPlaintext(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK ready")
		s.Expect("CAPA")
		s.Send("+OK", "STLS", "USER", ".")
		s.Expect("STLS")
		s.Send("+OK begin TLS", "+OK injected")
		s.ExpectEOF()
	})
	o := testOptions(addr)
	o.STLS = true
	_, err := New(o).Open(context.Background(), testCreds())
	wantCode(t, err, pop3.CodeSysTemp)
}

func TestDialHook(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		if login(s) {
			s.ExpectEOF()
		}
	})
	var dialled string
	o := testOptions("legacy.invalid:110")
	o.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
		dialled = a
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	m, err := New(o).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	m.Close()
	if dialled != "legacy.invalid:110" {
		t.Errorf("Dial got %q", dialled)
	}
}
