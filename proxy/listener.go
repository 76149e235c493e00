package proxy

import (
	"crypto/tls"
	"net"
	"net/netip"

	proxyproto "github.com/pires/go-proxyproto"
)

const (
	tlsNone     = "none"
	tlsSTLS     = "stls"
	tlsImplicit = "implicit"
)

// wrapListener adds PROXY protocol handling and, for implicit TLS, the TLS
// layer outside it, so that the header is read in cleartext before the
// handshake.
//
// Every connection goes through the PROXY listener, with an explicit policy:
// USE (header optional) for ProxyProtocolFrom, REJECT for everyone else, so a
// header from an untrusted peer fails the first read and the session is
// refused and logged. The header is read lazily on the first read; the
// greeting is written to the raw connection, so POP3's server-speaks-first
// opening never waits on header detection.
func (s *Server) wrapListener(l net.Listener, mode string) net.Listener {
	trusted := s.o.ProxyProtocolFrom
	pl := &proxyproto.Listener{
		Listener:          l,
		ReadHeaderTimeout: proxyHeaderTimeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if mayProxy(trusted, o.Upstream) {
				return proxyproto.USE, nil
			}
			return proxyproto.REJECT, nil
		},
	}
	if mode == tlsImplicit {
		return tls.NewListener(pl, s.o.TLSConfig)
	}
	return pl
}

// mayProxy reports whether peer may send a PROXY header.
func mayProxy(trusted []netip.Prefix, peer net.Addr) bool {
	ip := addrOf(peer)
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// connParts unwraps an accepted connection into the PROXY layer (nil if
// absent) and the raw socket.
func connParts(c net.Conn) (*proxyproto.Conn, net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if pc, ok := c.(*proxyproto.Conn); ok {
		return pc, pc.Raw()
	}
	return nil, c
}
