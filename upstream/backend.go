package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/popgate/popgate/pop3"
)

// Backend opens mailboxes on one legacy POP3 server with the client's own
// credentials. It holds no connections between sessions, only the server's
// capabilities: logins within five minutes of a CAPA skip it, and a failed
// login forgets them. It is safe for concurrent use.
type Backend struct {
	o    Options
	caps capsCache
}

var (
	_ pop3.Opener = (*Backend)(nil)
	_ pop3.APOPer = (*Backend)(nil)
)

// New returns a Backend for the server described by o.
func New(o Options) *Backend { return &Backend{o: o, caps: capsCache{now: time.Now}} }

// Name returns the backend's name.
func (b *Backend) Name() string { return b.o.Name }

// SupportsAPOP reports false: an APOP digest is computed over popgate's
// greeting, not the server's, so it cannot be relayed.
func (b *Backend) SupportsAPOP() bool { return false }

// Open connects to the server, logs in with cr and returns the maildrop. A
// refused login is a *pop3.Error with CodeAuth (or the server's own code,
// such as IN-USE) and the server's sanitised text; an unreachable or
// misbehaving server is CodeSysTemp with a generic text. The cause, naming
// the backend, address, user and step, is in the error's Err.
//
// The Mailbox speaks to the server one command at a time: a body returned
// by Retr or Top must be read or closed before the next call (which
// otherwise fails with ErrBodyOpen). After a transport failure every
// method fails. Close drops the connection without QUIT, so nothing is
// deleted; Update sends QUIT.
func (b *Backend) Open(ctx context.Context, cr pop3.Credentials) (pop3.Mailbox, error) {
	c := &conn{name: b.o.Name, addr: b.o.Addr, user: cr.User, timeout: b.o.commandTimeout()}
	if err := checkCredentials(c, cr); err != nil {
		return nil, err
	}
	m, err := b.open(ctx, c, cr)
	if err != nil {
		// The server may have changed: ask for its capabilities next time.
		b.caps.forget()
		return nil, err
	}
	return m, nil
}

// open connects and logs in.
func (b *Backend) open(ctx context.Context, c *conn, cr pop3.Credentials) (*mailbox, error) {
	if err := b.connect(ctx, c, cr); err != nil {
		return nil, err
	}
	m, err := b.login(ctx, c, cr)
	if err != nil {
		c.close()
		return nil, err
	}
	return m, nil
}

// connect dials and gives c its connection.
func (b *Backend) connect(ctx context.Context, c *conn, cr pop3.Credentials) error {
	nc, err := b.dial(ctx, cr)
	if err != nil {
		return c.fail(ctx, "connect", err)
	}
	c.nc = nc
	c.r = pop3.NewReader(nc)
	return nil
}

// dial connects, announces the client with a PROXY header if configured,
// and completes implicit TLS, all within the dial timeout.
func (b *Backend) dial(ctx context.Context, cr pop3.Credentials) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.dialTimeout())
	defer cancel()
	dial := b.o.Dial
	if dial == nil {
		// No keepalive: every exchange has a timeout, and each keepalive
		// option would cost a setsockopt per connection.
		dial = (&net.Dialer{KeepAlive: -1}).DialContext
	}
	nc, err := dial(ctx, "tcp", b.o.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := b.handshake(ctx, nc, cr); err != nil {
		nc.Close()
		return nil, err
	}
	if b.o.TLS {
		tc := tls.Client(nc, b.o.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		nc = tc
	}
	return nc, nil
}

// handshake writes the PROXY v2 header, when configured. Its destination is
// the address the client connected to, as a load balancer would send it.
// Without a known client address the header says LOCAL, so the server
// falls back to the connection's own addresses.
func (b *Backend) handshake(ctx context.Context, nc net.Conn, cr pop3.Credentials) error {
	if !b.o.ProxyProtocol {
		return nil
	}
	dst := cr.Local
	if dst == nil {
		dst = nc.RemoteAddr()
	}
	hdr := proxyproto.HeaderProxyFromAddrs(2, cr.Client, dst)
	dl, _ := ctx.Deadline()
	nc.SetWriteDeadline(dl)
	if _, err := hdr.WriteTo(nc); err != nil {
		return fmt.Errorf("write proxy header: %w", err)
	}
	nc.SetWriteDeadline(time.Time{})
	return nil
}

// checkCredentials refuses, before anything is sent, credentials that this
// backend cannot relay or that would break the command line.
func checkCredentials(c *conn, cr pop3.Credentials) error {
	refuse := func(text string, cause error) error {
		return &pop3.Error{Code: pop3.CodeAuth, Text: text, Err: fmt.Errorf("%s: %w", c.describe("login"), cause)}
	}
	switch cr.Mechanism {
	case pop3.MechAPOP:
		return refuse("APOP not supported for this account, use USER/PASS", fmt.Errorf("APOP cannot be relayed"))
	case pop3.MechUser, pop3.MechPlain, pop3.MechLogin, "":
	default:
		return refuse("authentication mechanism not supported", fmt.Errorf("mechanism %q", cr.Mechanism))
	}
	if cr.User == "" {
		return refuse(pop3.ErrAuthFailed.Text, fmt.Errorf("empty user name"))
	}
	if checkArg(cr.User) != nil || checkArg(cr.Password) != nil {
		return refuse(pop3.ErrAuthFailed.Text, errBadArg)
	}
	return nil
}
