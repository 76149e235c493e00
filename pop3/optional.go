package pop3

import (
	"context"
	"io"
	"net"
)

// The optional capabilities below are declared here once, and wrappers
// keep them with the helpers that follow, so that a Mailbox or Opener
// wrapped by metrics, health, throttle or rewrite still shows them.

// Sizer is implemented by a message reader (from Retr or Top) that knows
// its length in octets as sent, CRLF line ends, before dot-stuffing, so
// RETR can announce it without asking the backend for a LIST first.
type Sizer interface {
	Size() int64
}

// KeepSize returns r, a reader wrapping inner, with inner's Size when
// inner is a Sizer.
func KeepSize(r, inner io.ReadCloser) io.ReadCloser {
	if s, ok := inner.(Sizer); ok {
		return sizedReader{r, s}
	}
	return r
}

type sizedReader struct {
	io.ReadCloser
	Sizer
}

// StatusRelayer is implemented by a Mailbox that chooses its own status
// lines: one that relays a POP3 server returns the server's +OK line to the
// last command it sent, when that command was cmd (an upper-case verb, or
// LOGIN for the reply that completed the login), so that a client sees the
// server's own words; the native backend returns popa3d's.
type StatusRelayer interface {
	Status(cmd string) (Response, bool)
}

// StatusOf returns m's relayed status line for cmd, if m is a
// StatusRelayer and has one.
func StatusOf(m Mailbox, cmd string) (Response, bool) {
	if r, ok := m.(StatusRelayer); ok {
		return r.Status(cmd)
	}
	return Response{}, false
}

// CapsOf returns m's capabilities when m is a Capabler, else nil.
func CapsOf(m Mailbox) []string {
	if c, ok := m.(Capabler); ok {
		return c.Caps()
	}
	return nil
}

// SupportsAPOP reports whether op is an APOPer that supports APOP.
func SupportsAPOP(op Opener) bool {
	ap, ok := op.(APOPer)
	return ok && ap.SupportsAPOP()
}

// RelaysAPOP returns op as a Greeter when it verifies APOP only over a
// connection from Greet.
func RelaysAPOP(op Opener) (Greeter, bool) {
	g, ok := op.(Greeter)
	return g, ok && SupportsAPOP(op)
}

// VerifiesAPOP reports whether op verifies APOP digests itself, over any
// timestamp the client was greeted with.
func VerifiesAPOP(op Opener) bool {
	_, relays := op.(Greeter)
	return !relays && SupportsAPOP(op)
}

// WrapOpener returns an Opener that opens with open and keeps inner's
// optional capabilities: it is an APOPer answering as inner does, and a
// Greeter when inner is one.
func WrapOpener(inner Opener, open OpenerFunc) Opener {
	w := wrappedOpener{inner: inner, open: open}
	if _, ok := inner.(Greeter); ok {
		return greetingOpener{w}
	}
	return w
}

type wrappedOpener struct {
	inner Opener
	open  OpenerFunc
}

var _ APOPer = wrappedOpener{}

func (w wrappedOpener) Open(ctx context.Context, c Credentials) (Mailbox, error) {
	return w.open(ctx, c)
}

func (w wrappedOpener) SupportsAPOP() bool { return SupportsAPOP(w.inner) }

// greetingOpener is a wrappedOpener around a Greeter.
type greetingOpener struct{ wrappedOpener }

var _ Greeter = greetingOpener{}

// Greet forwards to inner; the connection it opens is logged in by a later
// Open through the wrapper, so the wrapper's own work is not skipped.
func (w greetingOpener) Greet(ctx context.Context, client, local net.Addr) (Greeted, error) {
	return w.inner.(Greeter).Greet(ctx, client, local)
}
