package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// Defaults for the zero values of Options.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultCommandTimeout = 60 * time.Second
)

// Options describe one legacy POP3 server. The zero value of every field
// except Addr is usable.
type Options struct {
	// Name is the backend's name. It appears in every error, so logs say
	// which server failed.
	Name string
	// Addr is the server's host:port.
	Addr string
	// TLS dials with implicit TLS (pop3s, usually port 995).
	TLS bool
	// STLS upgrades a plain connection with STLS (RFC 2595) when the
	// server offers it. A server that does not offer it is used in plain
	// text; set TLS instead to insist on encryption.
	STLS bool
	// TLSConfig is used for TLS and STLS. Nil means verify against the
	// system roots; an empty ServerName is set to Addr's host unless
	// InsecureSkipVerify is set.
	TLSConfig *tls.Config
	// ProxyProtocol sends a PROXY protocol v2 header carrying the real
	// client address before anything else, for servers that log or limit
	// by client address.
	ProxyProtocol bool
	// DialTimeout bounds connecting (and the TLS handshake). Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// CommandTimeout bounds the wait for each response, and for each read
	// of a message body. Zero means DefaultCommandTimeout.
	CommandTimeout time.Duration
	// APOP relays APOP logins (RFC 1939 section 7). The client must be
	// greeted with the server's own timestamp, so each client connection
	// opens one to the server at once (see Backend.Greet), before the
	// login gate counts it.
	APOP bool
	// DelayedACK leaves the connection's acknowledgements to the kernel's
	// delayed-ACK logic instead of arming TCP_QUICKACK (Linux only) while
	// a reply is awaited. See ackConn for why quickack is the default.
	DelayedACK bool
	// PoolSize is the most connections kept connected and greeted (and
	// past STLS) ahead of logins, so that a login costs one round trip to
	// the server. Zero keeps none. It is ignored with ProxyProtocol: the
	// header must name the client, unknown when the connection is opened.
	PoolSize int
	// PoolMaxAge is how long a pooled connection may wait for a login
	// before it is closed with QUIT. Zero means DefaultPoolMaxAge.
	PoolMaxAge time.Duration
	// Dial opens the TCP connection. Nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o *Options) dialTimeout() time.Duration {
	if o.DialTimeout > 0 {
		return o.DialTimeout
	}
	return DefaultDialTimeout
}

func (o *Options) commandTimeout() time.Duration {
	if o.CommandTimeout > 0 {
		return o.CommandTimeout
	}
	return DefaultCommandTimeout
}

func (o *Options) poolMaxAge() time.Duration {
	if o.PoolMaxAge > 0 {
		return o.PoolMaxAge
	}
	return DefaultPoolMaxAge
}

// tlsConfig returns the configuration for a handshake with Addr.
func (o *Options) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		host, _, err := net.SplitHostPort(o.Addr)
		if err != nil {
			host = o.Addr
		}
		cfg.ServerName = host
	}
	return cfg
}
