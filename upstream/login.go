package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/popgate/popgate/pop3"
)

// maxCapaLines bounds a CAPA reply, so a server cannot stream one forever.
const maxCapaLines = 100

// caps is what a server's CAPA reply said.
type caps struct {
	known bool // the server answered CAPA
	user  bool // USER/PASS offered
	plain bool // SASL PLAIN offered
	cram  bool // SASL CRAM-MD5 offered
	stls  bool
	top   bool
	uidl  bool
	pipe  bool // PIPELINING (RFC 2449 section 6.6)
}

// saslOnly reports a server that offers AUTH PLAIN but not USER.
func (cp caps) saslOnly() bool { return cp.known && !cp.user && cp.plain }

// assumed is what a server that does not answer CAPA is taken to support
// (RFC 1939 servers: USER/PASS; TOP and UIDL are optional but near universal,
// and a server without them just answers -ERR).
var assumed = caps{user: true, top: true, uidl: true}

// login runs the AUTHORIZATION state: CAPA unless remembered,
// optional STLS, then USER/PASS or AUTH PLAIN, and a first STAT.
// The caller has read the greeting.
func (b *Backend) login(ctx context.Context, c *conn, cr pop3.Credentials) (*mailbox, error) {
	cp, err := b.capabilities(ctx, c)
	if err != nil {
		return nil, err
	}
	return loginWith(ctx, c, cp, cr)
}

// loginWith logs in once the capabilities are known.
func loginWith(ctx context.Context, c *conn, cp caps, cr pop3.Credentials) (*mailbox, error) {
	m := &mailbox{c: c, caps: cp}
	if err := m.authorize(ctx, cr); err != nil {
		return nil, err
	}
	return m, nil
}

// capabilities returns what the server offers, from the backend's cache or
// from CAPA, and upgrades the connection with STLS when both sides want it.
func (b *Backend) capabilities(ctx context.Context, c *conn) (caps, error) {
	sc, cached := b.caps.get()
	var err error
	if !cached {
		if sc.pre, err = capa(ctx, c); err != nil {
			return caps{}, err
		}
	}
	cp := sc.pre
	if b.o.STLS && sc.pre.stls {
		if err := starttls(ctx, c, b.o.tlsConfig()); err != nil {
			return caps{}, err
		}
		// RFC 2595 section 4: capabilities learnt before TLS are void.
		if !cached {
			if sc.post, err = capa(ctx, c); err != nil {
				return caps{}, err
			}
		}
		cp = sc.post
	}
	if !cached {
		b.caps.put(sc)
	}
	return cp, nil
}

// authorize logs in and takes the first STAT, pipelining USER, PASS and
// STAT when the server allows it.
func (m *mailbox) authorize(ctx context.Context, cr pop3.Credentials) error {
	var err error
	switch {
	case cr.Mechanism == pop3.MechAPOP:
		err = apop(ctx, m.c, cr)
	case cr.Mechanism == pop3.MechCRAMMD5:
		err = cramResponse(ctx, m.c, cr)
	case m.caps.pipe && !m.caps.saslOnly():
		var user pop3.Response
		if user, err = m.pipeline(ctx, cr); err != nil || user.OK {
			return err
		}
		// USER was refused, and so were PASS and STAT: carry on as
		// authenticate would.
		err = userRefused(ctx, m.c, m.caps, cr, user)
	default:
		err = authenticate(ctx, m.c, m.caps, cr)
	}
	if err != nil {
		return err
	}
	loggedIn := m.c.ok
	if m.count, m.size, err = m.stat(ctx); err == nil {
		// The client sees the server's reply to its login, not to STAT.
		m.relay("LOGIN", loggedIn)
	}
	return err
}

// greeting reads the server's greeting.
func greeting(ctx context.Context, c *conn) (pop3.Response, error) {
	disarm, err := c.begin(ctx, "greeting")
	if err != nil {
		return pop3.Response{}, err
	}
	defer disarm()
	resp, err := c.readResponse(ctx, "greeting", false)
	if err != nil {
		return pop3.Response{}, err
	}
	if !resp.OK {
		return pop3.Response{}, c.fail(ctx, "greeting", fmt.Errorf("server greeted -ERR %q", sanitize(resp.Text, "")))
	}
	return resp, nil
}

// capa asks for the server's capabilities. A server that refuses CAPA (RFC
// 1939 only, such as popa3d) gets the assumed set.
func capa(ctx context.Context, c *conn) (caps, error) {
	const step = "capa"
	disarm, err := c.begin(ctx, step)
	if err != nil {
		return caps{}, err
	}
	defer disarm()
	resp, err := c.roundTripBlock(ctx, step, "CAPA")
	if err != nil {
		return caps{}, err
	}
	if !resp.OK {
		return assumed, nil
	}
	cp := caps{known: true}
	n := 0
	err = c.readLines(ctx, step, func(line []byte) error {
		if n++; n > maxCapaLines {
			return fmt.Errorf("more than %d capabilities", maxCapaLines)
		}
		f := bytes.Fields(bytes.ToUpper(line))
		if len(f) == 0 {
			return nil
		}
		switch string(f[0]) {
		case "USER":
			cp.user = true
		case "STLS":
			cp.stls = true
		case "TOP":
			cp.top = true
		case "UIDL":
			cp.uidl = true
		case "PIPELINING":
			cp.pipe = true
		case "SASL":
			for _, m := range f[1:] {
				switch string(m) {
				case "PLAIN":
					cp.plain = true
				case "CRAM-MD5":
					cp.cram = true
				}
			}
		}
		return nil
	})
	return cp, err
}

// starttls upgrades the connection. Bytes the server sent after its +OK
// would be read as if they came over TLS, so they are refused.
func starttls(ctx context.Context, c *conn, cfg *tls.Config) error {
	const step = "stls"
	disarm, err := c.begin(ctx, step)
	if err != nil {
		return err
	}
	defer disarm()
	resp, err := c.roundTrip(ctx, step, "STLS")
	if err != nil {
		return err
	}
	if !resp.OK {
		return c.fail(ctx, step, fmt.Errorf("server offered STLS but replied -ERR %q", sanitize(resp.Text, "")))
	}
	if c.r.Buffered() > 0 {
		return c.fail(ctx, step, errors.New("plaintext data after STLS reply"))
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return c.fail(ctx, step, fmt.Errorf("tls handshake: %w", err))
	}
	c.nc = tc
	c.r.Reset(tc)
	return nil
}

// apop logs in with the client's APOP digest, computed over this
// connection's greeting.
func apop(ctx context.Context, c *conn, cr pop3.Credentials) error {
	return loginLine(ctx, c, "APOP", cr.User, cr.Digest)
}

// cramResponse answers the CRAM-MD5 challenge that Challenge read with the
// client's response (RFC 2195). A second challenge breaks the connection.
func cramResponse(ctx context.Context, c *conn, cr pop3.Credentials) error {
	return loginLine(ctx, c, base64.StdEncoding.EncodeToString([]byte(cr.User+" "+cr.Digest)))
}

// loginLine sends one line that completes the login and reads the verdict.
func loginLine(ctx context.Context, c *conn, name string, args ...string) error {
	resp, err := c.command(ctx, "login", name, args...)
	if err != nil {
		return err
	}
	if !resp.OK {
		return c.loginRefused(resp)
	}
	return nil
}

// authenticate logs in with USER/PASS, or with AUTH PLAIN (RFC 5034) when
// the server offers only SASL or refuses USER without a response code.
func authenticate(ctx context.Context, c *conn, cp caps, cr pop3.Credentials) error {
	if cp.saslOnly() {
		return authPlain(ctx, c, cr)
	}
	resp, err := c.command(ctx, "login", "USER", cr.User)
	if err != nil {
		return err
	}
	if !resp.OK {
		return userRefused(ctx, c, cp, cr, resp)
	}
	resp, err = c.command(ctx, "login", "PASS", cr.Password)
	if err != nil {
		return err
	}
	if !resp.OK {
		return c.loginRefused(resp)
	}
	return nil
}

// plainAfterUser reports whether a refused USER is worth an AUTH PLAIN: not
// if the refusal has a response code, which is already the answer, nor if
// CAPA listed no SASL PLAIN.
func plainAfterUser(cp caps, user pop3.Response) bool {
	return user.Code == pop3.CodeNone && (!cp.known || cp.plain)
}

// userRefused answers a refused USER: with the refusal, or with AUTH PLAIN
// when plainAfterUser allows it.
func userRefused(ctx context.Context, c *conn, cp caps, cr pop3.Credentials, user pop3.Response) error {
	refusal := c.loginRefused(user)
	if !plainAfterUser(cp, user) {
		return refusal
	}
	err := authPlain(ctx, c, cr)
	if code := pop3.CodeOf(err); !cp.plain && c.broken == nil && (code == pop3.CodeAuth || code == pop3.CodeSysTemp) {
		// The server may not know AUTH at all: its USER refusal says more
		// than "unknown command".
		return refusal
	}
	return err
}

// authPlain runs AUTH PLAIN, with an initial response when the command fits
// in the 255-octet command line (RFC 5034 section 4), else after a "+ ".
func authPlain(ctx context.Context, c *conn, cr pop3.Credentials) error {
	const step = "login"
	disarm, err := c.begin(ctx, step)
	if err != nil {
		return err
	}
	defer disarm()
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + cr.User + "\x00" + cr.Password))
	var resp pop3.Response
	if len("AUTH PLAIN ")+len(ir)+2 <= pop3.MaxCommandLine {
		resp, err = c.roundTripSASL(ctx, step, "AUTH", "PLAIN", ir)
	} else {
		resp, err = c.roundTripSASL(ctx, step, "AUTH", "PLAIN")
		if err == nil && resp.Continue {
			resp, err = c.roundTripSASL(ctx, step, ir)
		}
	}
	if err != nil {
		return err
	}
	switch {
	case resp.OK:
		return nil
	case resp.Continue:
		// PLAIN is one step; a second challenge means a confused server.
		// Cancel (RFC 5034 section 4) so it stays in sync, then give up.
		if _, err := c.roundTripSASL(ctx, step, "*"); err != nil {
			return err
		}
		return c.fail(ctx, step, errors.New("unexpected AUTH PLAIN challenge"))
	}
	return c.loginRefused(resp)
}
