package upstream

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/popgate/popgate/pop3"
)

// Backend opens mailboxes on one legacy POP3 server with the client's own
// credentials. It remembers the server's capabilities (logins within five
// minutes of a CAPA skip it, and a failed login forgets them) and, with
// Options.PoolSize, keeps a few connections greeted ahead of the logins
// that will use them. It is safe for concurrent use; Close ends the pool.
type Backend struct {
	o    Options
	caps capsCache
	pool *pool // nil without one
}

var (
	_ pop3.Opener  = (*Backend)(nil)
	_ pop3.APOPer  = (*Backend)(nil)
	_ pop3.Greeter = (*Backend)(nil)
)

// New returns a Backend for the server described by o. A pool is kept only
// when o.PoolSize is positive and no PROXY header is due: a pooled
// connection was opened before its client was known.
func New(o Options) *Backend {
	b := &Backend{o: o, caps: capsCache{now: time.Now}}
	if o.PoolSize > 0 && !o.ProxyProtocol {
		b.pool = newPool(b, o.PoolSize, o.poolMaxAge())
	}
	return b
}

// Close closes the pooled connections with QUIT. Mailboxes already open
// are not affected.
func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

// PoolStats returns the counters of the pool of greeted connections.
func (b *Backend) PoolStats() PoolStats { return b.pool.stats() }

// Name returns the backend's name.
func (b *Backend) Name() string { return b.o.Name }

// SupportsAPOP reports whether APOP is relayed (Options.APOP). A digest is
// computed over the greeting's timestamp, so it can be relayed only on a
// connection from Greet whose timestamp the client was shown.
func (b *Backend) SupportsAPOP() bool { return b.o.APOP }

// greeted is a connection from Greet: greeted, not logged in.
type greeted struct {
	b         *Backend
	c         *conn
	timestamp string
	cp        caps
	capsRead  bool    // cp holds the capabilities, and STLS is done if due
	challenge bool    // AUTH CRAM-MD5 is waiting for the client's response
	pooled    *pooled // the pool's connection, if it came from there
}

var _ pop3.SASLChallenger = (*greeted)(nil)

// capabilities learns the server's capabilities on this connection once.
func (g *greeted) capabilities(ctx context.Context) (caps, error) {
	if !g.capsRead {
		cp, err := g.b.capabilities(ctx, g.c)
		if err != nil {
			return caps{}, err
		}
		g.cp, g.capsRead = cp, true
	}
	return g.cp, nil
}

// Offers implements pop3.SASLChallenger: only CRAM-MD5 is relayed.
func (g *greeted) Offers(ctx context.Context, mech pop3.Mechanism) bool {
	cp, err := g.capabilities(ctx)
	return err == nil && mech == pop3.MechCRAMMD5 && cp.cram
}

// Challenge implements pop3.SASLChallenger.
func (g *greeted) Challenge(ctx context.Context, mech pop3.Mechanism) (string, error) {
	const step = "login"
	if !g.Offers(ctx, mech) {
		return "", &pop3.Error{Text: pop3.ErrUnsupported.Text, Err: fmt.Errorf("%s: server does not offer %s", g.c.describe(step), mech)}
	}
	disarm, err := g.c.begin(ctx, step)
	if err != nil {
		return "", err
	}
	defer disarm()
	resp, err := g.c.roundTripSASL(ctx, step, "AUTH", string(mech))
	if err != nil {
		return "", err
	}
	if !resp.Continue {
		return "", g.c.refused(step, resp, pop3.CodeSysTemp, pop3.ErrBackendTemporary.Text)
	}
	challenge, err := base64.StdEncoding.DecodeString(resp.Text)
	if err != nil {
		return "", g.c.fail(ctx, step, fmt.Errorf("CRAM-MD5 challenge: %w", err))
	}
	g.challenge = true
	return string(challenge), nil
}

func (g *greeted) Timestamp() string { return g.timestamp }
func (g *greeted) Close() error      { return g.c.close() }

// Greet connects and reads the server's greeting, for a client to be
// greeted with its APOP timestamp; Open with the result in
// Credentials.Greeted logs in on that connection. It fails unless APOP is
// relayed and the server's greeting has a timestamp, and when a PROXY
// header is due but the client's address is not known yet.
func (b *Backend) Greet(ctx context.Context, client, local net.Addr) (pop3.Greeted, error) {
	c := &conn{name: b.o.Name, addr: b.o.Addr, timeout: b.o.commandTimeout()}
	switch {
	case !b.o.APOP:
		return nil, &pop3.Error{Text: pop3.ErrUnsupported.Text, Err: fmt.Errorf("%s: APOP is not relayed", c.describe("greet"))}
	case b.o.ProxyProtocol && client == nil:
		return nil, &pop3.Error{Text: pop3.ErrUnsupported.Text, Err: fmt.Errorf("%s: client address unknown for the PROXY header", c.describe("greet"))}
	}
	defer b.pool.refill()
	if pc := b.pool.take(); pc != nil {
		if pc.timestamp != "" {
			return &greeted{b: b, c: pc.c, timestamp: pc.timestamp, cp: pc.cp, capsRead: true, pooled: pc}, nil
		}
		// The server's greetings have no timestamp: a fresh one would
		// fail the same way, so none is dialled.
		b.pool.retire(pc)
		return nil, c.fail(ctx, "greeting", errNoTimestamp)
	}
	if err := b.connect(ctx, c, pop3.Credentials{Client: client, Local: local}); err != nil {
		return nil, err
	}
	resp, err := greeting(ctx, c)
	if err == nil {
		if ts := apopTimestamp(resp.Text); ts != "" {
			return &greeted{b: b, c: c, timestamp: ts}, nil
		}
		err = c.fail(ctx, "greeting", errNoTimestamp)
	}
	c.close()
	return nil, err
}

// errNoTimestamp is why a server whose greeting has no APOP timestamp
// cannot take a relayed APOP login.
var errNoTimestamp = errors.New("no APOP timestamp in the greeting")

// login logs in on the greeted connection, with the capabilities learnt.
func (g *greeted) login(ctx context.Context, cr pop3.Credentials) (*mailbox, error) {
	cp, err := g.capabilities(ctx)
	if err != nil {
		return nil, err
	}
	return loginWith(ctx, g.c, cp, cr)
}

// apopTimestamp finds the msg-id style timestamp of a greeting (RFC 1939
// section 7), such as <1896.697170952@dbc.mtview.ca.us>.
func apopTimestamp(text string) string {
	start := strings.IndexByte(text, '<')
	if start < 0 {
		return ""
	}
	end := strings.IndexByte(text[start:], '>')
	if end < 0 || !strings.Contains(text[start:start+end], "@") {
		return ""
	}
	ts := text[start : start+end+1]
	if checkArg(ts) != nil || strings.ContainsAny(ts, " \t") {
		return ""
	}
	return ts
}

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
	g, _ := cr.Greeted.(*greeted)
	if g != nil && g.b != b {
		g = nil
	}
	if g != nil && g.challenge != (cr.Mechanism == pop3.MechCRAMMD5) {
		// Mid-AUTH, the connection serves only the response it awaits.
		g.c.close()
		g = nil
	}
	if g != nil {
		g.c.user = cr.User
		c = g.c
	}
	if err := checkCredentials(c, cr, g); err != nil {
		if g != nil {
			c.close()
		}
		return nil, err
	}
	var m *mailbox
	var err error
	if g != nil {
		if m, err = g.login(ctx, cr); err != nil {
			c.close()
			if g.pooled != nil && g.pooled.lostBeforeReply() && retriable(cr) {
				b.pool.discard()
				m, err = b.open(ctx, &conn{name: b.o.Name, addr: b.o.Addr, user: cr.User, timeout: b.o.commandTimeout()}, cr, false)
			}
		} else if g.pooled != nil {
			m.pooled = true
		}
	} else {
		m, err = b.open(ctx, c, cr, true)
	}
	if err != nil {
		// The server may have changed: ask for its capabilities next time.
		b.caps.forget()
		return nil, err
	}
	return m, nil
}

// retriable reports whether cr may be sent again on another connection:
// not a digest, which was computed over the first connection's greeting or
// challenge.
func retriable(cr pop3.Credentials) bool {
	return cr.Mechanism != pop3.MechAPOP && cr.Mechanism != pop3.MechCRAMMD5
}

// open logs in on a pooled connection when usePool and the pool has one,
// else (or when the pooled connection turns out to be dead before any
// reply to the login) on a fresh one.
func (b *Backend) open(ctx context.Context, c *conn, cr pop3.Credentials, usePool bool) (*mailbox, error) {
	if usePool {
		defer b.pool.refill()
	}
	if pc := b.takeIf(usePool); pc != nil {
		pc.c.user = cr.User
		m, err := loginWith(ctx, pc.c, pc.cp, cr)
		if err == nil {
			m.pooled = true
			return m, nil
		}
		pc.c.close()
		if !pc.lostBeforeReply() {
			return nil, err
		}
		b.pool.discard()
	}
	if err := b.connect(ctx, c, cr); err != nil {
		return nil, err
	}
	if _, err := greeting(ctx, c); err != nil {
		c.close()
		return nil, err
	}
	m, err := b.login(ctx, c, cr)
	if err != nil {
		c.close()
		return nil, err
	}
	return m, nil
}

// takeIf takes a pooled connection if usePool.
func (b *Backend) takeIf(usePool bool) *pooled {
	if !usePool {
		return nil
	}
	return b.pool.take()
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
	if !b.o.DelayedACK {
		// On the socket itself, under TLS: every read and write of the
		// connection passes through it.
		nc = withQuickAck(nc)
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
func checkCredentials(c *conn, cr pop3.Credentials, g *greeted) error {
	refuse := func(text string, cause error) error {
		return &pop3.Error{Code: pop3.CodeAuth, Text: text, Err: fmt.Errorf("%s: %w", c.describe("login"), cause)}
	}
	switch cr.Mechanism {
	case pop3.MechCRAMMD5:
		if g == nil || !g.challenge {
			return refuse("CRAM-MD5 not supported for this account", fmt.Errorf("CRAM-MD5 needs a connection with the server's challenge"))
		}
		if checkArg(cr.User) != nil || checkArg(cr.Digest) != nil {
			return refuse(pop3.ErrAuthFailed.Text, errBadArg)
		}
		return nil
	case pop3.MechAPOP:
		if g == nil || g.challenge {
			return refuse("APOP not supported for this account, use USER/PASS", fmt.Errorf("APOP needs a connection greeted for this client"))
		}
		if checkArg(cr.User) != nil || checkArg(cr.Digest) != nil || strings.ContainsAny(cr.User+cr.Digest, " \t") {
			return refuse(pop3.ErrAuthFailed.Text, errBadArg)
		}
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
