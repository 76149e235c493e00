package upstream

import (
	"context"
	"time"

	"github.com/popgate/popgate/pop3"
)

// Probe is a health check: it connects as a session would (TLS, PROXY
// header saying LOCAL), waits for a +OK greeting and says QUIT, all within
// the dial timeout plus one command timeout or ctx, whichever ends first. A
// nil error means the server would accept a login attempt now.
func (b *Backend) Probe(ctx context.Context) error {
	c := &conn{name: b.o.Name, addr: b.o.Addr, user: "(health check)", timeout: b.o.commandTimeout()}
	nc, err := b.dial(ctx, pop3.Credentials{})
	if err != nil {
		return c.fail(ctx, "connect", err)
	}
	defer nc.Close()
	c.nc = nc
	c.r = pop3.NewReader(nc)
	if err := greeting(ctx, c); err != nil {
		return err
	}
	// A polite QUIT keeps the server's log free of aborted sessions; its
	// answer does not matter.
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte("QUIT\r\n"))
	return nil
}
