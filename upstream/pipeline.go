package upstream

import (
	"context"
	"errors"

	"github.com/popgate/popgate/pop3"
)

// pipeline sends USER, PASS and STAT in one write (RFC 2449 section 6.6),
// saving two round trips, and reads every reply so the connection stays in
// sync whatever the server answered. It returns USER's reply; when that is
// +OK and err nil, the login is complete and the STAT taken.
func (m *mailbox) pipeline(ctx context.Context, cr pop3.Credentials) (pop3.Response, error) {
	const step = "login"
	c := m.c
	cmds, err := loginCommands(c, cr)
	if err != nil {
		return pop3.Response{}, err
	}
	disarm, err := c.begin(ctx, step)
	if err != nil {
		return pop3.Response{}, err
	}
	defer disarm()
	if err := c.write(ctx, step, cmds); err != nil {
		return pop3.Response{}, err
	}
	user, err := c.reply(ctx, step)
	switch {
	case err != nil:
		return user, err
	case !user.OK:
		return user, m.afterUserRefused(ctx, user)
	}
	return user, m.afterUser(ctx)
}

// loginCommands builds the pipelined lines, refusing a bad argument before
// anything is written.
func loginCommands(c *conn, cr pop3.Credentials) ([]byte, error) {
	cmds, err := c.appendCommand(nil, "login", "USER", cr.User)
	if err == nil {
		cmds, err = c.appendCommand(cmds, "login", "PASS", cr.Password)
	}
	if err == nil {
		cmds, err = c.appendCommand(cmds, "login", "STAT")
	}
	return cmds, err
}

// afterUser reads the replies to PASS and STAT once USER was accepted.
func (m *mailbox) afterUser(ctx context.Context) error {
	c := m.c
	c.refresh(ctx)
	pass, err := c.reply(ctx, "login")
	if err != nil {
		return err
	}
	if !pass.OK {
		// A server may hang up instead of answering STAT: the refusal
		// stands either way.
		_ = c.refusals(ctx, "login", 1)
		return c.loginRefused(pass)
	}
	c.refresh(ctx)
	stat, err := c.reply(ctx, "stat")
	if err != nil {
		return err
	}
	if m.count, m.size, err = m.statReply(ctx, stat); err == nil {
		m.relay("LOGIN", pass)
	}
	return err
}

// afterUserRefused reads the -ERR replies to the PASS and STAT that
// followed a refused USER. Only a fallback to AUTH PLAIN, on this
// connection, needs them; otherwise the USER refusal stands.
func (m *mailbox) afterUserRefused(ctx context.Context, user pop3.Response) error {
	err := m.c.refusals(ctx, "login", 2)
	if !plainAfterUser(m.caps, user) {
		return nil
	}
	return err
}

// refusals reads n replies to pipelined commands that the server must have
// refused.
func (c *conn) refusals(ctx context.Context, step string, n int) error {
	for range n {
		c.refresh(ctx)
		resp, err := c.reply(ctx, step)
		if err != nil {
			return err
		}
		if resp.OK {
			return c.fail(ctx, step, errors.New("+OK to a pipelined command after a refusal"))
		}
	}
	return nil
}
