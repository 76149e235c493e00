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
	if err := b.connect(ctx, c, pop3.Credentials{}); err != nil {
		return err
	}
	defer c.close()
	if _, err := greeting(ctx, c); err != nil {
		return err
	}
	// A polite QUIT keeps the server's log free of aborted sessions; its
	// answer does not matter.
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write([]byte("QUIT\r\n"))
	return nil
}
