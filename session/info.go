package session

import (
	"context"
	"net"

	"github.com/popgate/popgate/pop3"
)

// Info describes a client session to routers, decorators and gates.
// Fields are filled in as they become known.
type Info struct {
	ID      string
	User    string
	Backend string
	// Client is the client's address (from the PROXY header when one was
	// used), Via the balancer that sent the header, Local the address the
	// client connected to.
	Client, Via, Local net.Addr
	// TLS is "none", "stls" or "implicit".
	TLS       string
	Mechanism pop3.Mechanism
}

// Decorator wraps a freshly opened Mailbox, for example to map UIDLs. It
// returns m itself when it has nothing to do for this session.
type Decorator interface {
	Decorate(ctx context.Context, s *Info, m pop3.Mailbox) pop3.Mailbox
}

// DecoratorFunc adapts a function to Decorator.
type DecoratorFunc func(ctx context.Context, s *Info, m pop3.Mailbox) pop3.Mailbox

// Decorate calls f.
func (f DecoratorFunc) Decorate(ctx context.Context, s *Info, m pop3.Mailbox) pop3.Mailbox {
	return f(ctx, s, m)
}

// Reporter is implemented by anything in a session's Mailbox chain (or a
// gate's Admission) that has something to say on the session line, such
// as how many UIDLs it mapped. Report is called once, at the end of the
// session, and fills in its own part of r.
type Reporter interface {
	Report(r *Record)
}

// Report calls v's Report when v is a Reporter. Wrappers use it to pass
// the call on to what they wrap.
func Report(v any, r *Record) {
	if rp, ok := v.(Reporter); ok {
		rp.Report(r)
	}
}
