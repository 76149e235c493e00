package proxy

import (
	"crypto/tls"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// Defaults for the zero values of Options.
const (
	// DefaultIdleTimeout is the inactivity limit. RFC 1939 section 3: an
	// autologout timer "MUST be of at least 10 minutes' duration".
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultLoginTimeout bounds the whole AUTHORIZATION state: clients log
	// in with their first commands, and before login there is nothing a
	// client could lose to a timeout (RFC 1939's autologout is meant for
	// sessions holding a maildrop), so an idle unauthenticated connection
	// only holds a descriptor.
	DefaultLoginTimeout = time.Minute
	// DefaultParkIdleAfter is how long a logged-in session waits for its
	// client's next command on a goroutine of its own before it is parked
	// (see ParkIdleAfter): long enough that a client working through its
	// maildrop never pays for parking, short enough that idle sessions
	// soon stop costing a goroutine stack.
	DefaultParkIdleAfter = time.Second
	// DefaultMaxPreLogin and DefaultMaxPreLoginPerAddress cap connections
	// that have not logged in, in all and from one client address.
	DefaultMaxPreLogin           = 5000
	DefaultMaxPreLoginPerAddress = 50
	// DefaultMaxSessionsPerUserAddress caps one user's logged-in sessions
	// from one address, as Dovecot's mail_max_userip_connections (also 10).
	DefaultMaxSessionsPerUserAddress = 10
	// DefaultAuthFailDelay slows down password guessing.
	DefaultAuthFailDelay = time.Second
	// DefaultMaxProtocolErrors is how many protocol errors in a row end a
	// session (go-smtp uses the same threshold).
	DefaultMaxProtocolErrors = 3
	// proxyHeaderTimeout bounds the wait for a PROXY header from a trusted
	// peer. Balancers send it at once; the wait only matters for the first
	// read, since the greeting does not depend on it.
	proxyHeaderTimeout = 5 * time.Second
	// tlsHandshakeTimeout bounds STLS and implicit TLS handshakes.
	tlsHandshakeTimeout = 30 * time.Second
)

// Router maps a user to a backend name. ok=false means Options.DefaultBackend.
type Router interface {
	Route(user string) (backend string, ok bool)
}

// RouterFunc adapts a function to Router.
type RouterFunc func(user string) (string, bool)

// Route calls f.
func (f RouterFunc) Route(user string) (string, bool) { return f(user) }

// Options configure a Server. Zero values mean the documented defaults.
type Options struct {
	// Backends are the maildrop openers by name; DefaultBackend names the
	// one for users the Router does not know (or every user if Router is nil).
	Backends       map[string]pop3.Opener
	DefaultBackend string
	Router         Router
	// Decorators wrap each opened Mailbox, first one innermost.
	Decorators []session.Decorator
	// Gate is the login policy (throttling, admission); nil means none.
	Gate session.Gate

	// TLSConfig enables STLS on Serve and is required by ServeTLS.
	TLSConfig *tls.Config
	// RequireTLS refuses USER, PASS, AUTH and APOP on an unencrypted
	// connection, except from a loopback client address (a local
	// TLS-terminating helper or a health check; the address is the one after
	// any PROXY header, so a balancer on loopback does not open the hole).
	RequireTLS bool
	// ProxyProtocolFrom lists the peers allowed to send a PROXY v1/v2
	// header. From them the header is optional; from anyone else a header
	// gets the connection refused (and logged).
	ProxyProtocolFrom []netip.Prefix

	// LoginTimeout closes a connection that has not logged in this long
	// after it was accepted; default DefaultLoginTimeout, negative for none
	// (then IdleTimeout applies).
	LoginTimeout time.Duration
	// MaxPreLogin and MaxPreLoginPerAddress cap the connections that have
	// not logged in, in all and per client address (after any PROXY
	// header); MaxSessionsPerUserAddress caps the logged-in sessions of one
	// user from one address. Connections over a cap are refused with
	// -ERR [SYS/TEMP] and the limit on the session line. Zero means the
	// default, negative none.
	MaxPreLogin               int
	MaxPreLoginPerAddress     int
	MaxSessionsPerUserAddress int
	// IdleTimeout closes a silent session; default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// ParkIdleAfter parks a logged-in session whose client has been silent
	// this long: it then waits without a goroutine (on Linux; elsewhere it
	// keeps one) until the client sends something, the idle timeout comes
	// or the server closes it. Default DefaultParkIdleAfter, negative never.
	ParkIdleAfter time.Duration
	// AuthFailDelay is slept after a refused login; default
	// DefaultAuthFailDelay, negative for none.
	AuthFailDelay time.Duration
	// MaxProtocolErrors consecutive protocol errors close the session;
	// default DefaultMaxProtocolErrors.
	MaxProtocolErrors int

	// Hostname goes into the greeting; default os.Hostname().
	Hostname string
	// Logger receives the session lines (Info) and protocol traces (Debug,
	// credentials redacted); default zap.NewNop().
	Logger *zap.Logger
	// OnSessionEnd is called once per connection after its line is logged.
	OnSessionEnd func(r *session.Record)
}
