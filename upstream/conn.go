package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/popgate/popgate/pop3"
)

// ErrBodyOpen is the cause (inside a *pop3.Error) when a Mailbox method is
// called while the body of a previous Retr or Top is still open: the server
// is still sending it, so the next status line would be read from the middle
// of a message. Close the body first.
var ErrBodyOpen = errors.New("upstream: previous message body not closed")

// maxListLine bounds one line of a LIST, UIDL or CAPA block.
const maxListLine = pop3.MaxResponseLine

// conn is one client connection to a POP3 server. It is not safe for
// concurrent use, except that close may be called at any time.
type conn struct {
	name, addr, user string
	nc               net.Conn
	r                *pop3.Reader
	timeout          time.Duration
	broken           error         // sticky: the stream is out of sync or gone
	ok               pop3.Response // the last +OK read, for StatusRelayer
	replies          int           // status lines read so far
	block            *block        // the open RETR/TOP body, if any

	mu      sync.Mutex // orders deadline updates against ctx cancellation
	expired bool       // ctx cancellation has expired the deadline
}

// describe names what failed, for the Err of a *pop3.Error.
func (c *conn) describe(step string) string {
	return fmt.Sprintf("upstream %s: %s for user %q at %s", c.name, step, c.user, c.addr)
}

// fail records a transport failure (timeout, EOF, garbage) that leaves the
// connection unusable and returns the error a client should see.
func (c *conn) fail(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	e := &pop3.Error{
		Code: pop3.CodeSysTemp,
		Text: pop3.ErrBackendTemporary.Text,
		Err:  fmt.Errorf("%s: %w", c.describe(step), err),
	}
	if c.broken == nil {
		c.broken = e
	}
	return e
}

// refused turns a server's -ERR into the error a client should see: the
// server's code (if popgate knows it, else def) and its sanitised text, or
// fallback when it had none; an empty fallback relays a bare -ERR as is.
func (c *conn) refused(step string, resp pop3.Response, def pop3.Code, fallback string) error {
	text := sanitize(resp.Text, fallback)
	return &pop3.Error{
		Code: knownCode(resp.Code, def),
		Text: text,
		Err:  fmt.Errorf("%s: server replied -ERR %q", c.describe(step), text),
	}
}

// loginRefused is refused for a -ERR to USER, PASS or AUTH, with the code
// loginCode chooses.
func (c *conn) loginRefused(resp pop3.Response) error {
	code := loginCode(resp)
	fallback := pop3.ErrAuthFailed.Text
	if code != pop3.CodeAuth {
		fallback = "login refused by the mail server"
	}
	return c.refused("login", resp, code, fallback)
}

// usable reports why no command may be sent now, if so.
func (c *conn) usable(ctx context.Context, step string) error {
	if c.broken != nil {
		return &pop3.Error{Code: pop3.CodeSysTemp, Text: pop3.ErrBackendTemporary.Text,
			Err: fmt.Errorf("%s: session already failed: %w", c.describe(step), c.broken)}
	}
	if c.block != nil {
		return &pop3.Error{Code: pop3.CodeSysTemp, Text: pop3.ErrInternal.Text,
			Err: fmt.Errorf("%s: %w", c.describe(step), ErrBodyOpen)}
	}
	if err := ctx.Err(); err != nil {
		// Nothing was sent, so the connection stays in sync.
		return &pop3.Error{Code: pop3.CodeSysTemp, Text: pop3.ErrBackendTemporary.Text,
			Err: fmt.Errorf("%s: %w", c.describe(step), err)}
	}
	return nil
}

// arm sets the deadline for one response and makes ctx cancellation expire
// it at once, so a blocked read returns. The returned func disarms; after
// it returns, no late cancellation can touch the connection's deadline.
func (c *conn) arm(ctx context.Context) (disarm func()) {
	c.mu.Lock()
	c.expired = false
	c.nc.SetDeadline(c.deadline(ctx))
	c.mu.Unlock()
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.expired = true
		c.nc.SetDeadline(time.Unix(1, 0))
		c.mu.Unlock()
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
		}
	}
}

// refresh extends the read deadline by one command timeout, for long
// message bodies, unless ctx has already expired it.
func (c *conn) refresh(ctx context.Context) {
	c.mu.Lock()
	if !c.expired {
		c.nc.SetReadDeadline(c.deadline(ctx))
	}
	c.mu.Unlock()
}

func (c *conn) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(c.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	return d
}

// send writes one command line in a single write.
func (c *conn) send(ctx context.Context, step string, name string, args ...string) error {
	line, err := c.appendCommand(nil, step, name, args...)
	if err != nil {
		return err
	}
	return c.write(ctx, step, line)
}

// appendCommand appends one command line to buf. An argument holding CR,
// LF or NUL is refused, so callers write nothing: it could end the line
// early and smuggle a second command to the server.
func (c *conn) appendCommand(buf []byte, step string, name string, args ...string) ([]byte, error) {
	n := len(name) + 2
	for _, a := range args {
		if err := checkArg(a); err != nil {
			return nil, &pop3.Error{Code: pop3.CodeNone, Text: pop3.ErrBadCommand.Text,
				Err: fmt.Errorf("%s: %w", c.describe(step), err)}
		}
		n += 1 + len(a)
	}
	buf = slices.Grow(buf, n)
	buf = append(buf, name...)
	for _, a := range args {
		buf = append(buf, ' ')
		buf = append(buf, a...)
	}
	return append(buf, "\r\n"...), nil
}

// write sends command lines to the server.
func (c *conn) write(ctx context.Context, step string, lines []byte) error {
	if _, err := c.nc.Write(lines); err != nil {
		return c.fail(ctx, step, fmt.Errorf("write: %w", err))
	}
	return nil
}

// readResponse reads one status line. Unless a block may follow it, the
// connection holds no read buffer while it waits for the server.
func (c *conn) readResponse(ctx context.Context, step string, block bool) (pop3.Response, error) {
	var resp pop3.Response
	var err error
	if block {
		resp, err = c.r.ReadResponse()
	} else {
		resp, err = c.r.ReadStatus()
	}
	if err != nil {
		return pop3.Response{}, c.fail(ctx, step, fmt.Errorf("read reply: %w", err))
	}
	c.replies++
	if resp.OK {
		c.ok = resp
	}
	return resp, nil
}

// begin checks that a command may be sent and arms the deadline; the
// caller must call the returned func when the exchange is over.
func (c *conn) begin(ctx context.Context, step string) (func(), error) {
	if err := c.usable(ctx, step); err != nil {
		return nil, err
	}
	return c.arm(ctx), nil
}

// roundTrip sends a command whose reply is one status line and reads it.
// An -ERR is returned as a Response, not an error.
func (c *conn) roundTrip(ctx context.Context, step, name string, args ...string) (pop3.Response, error) {
	if err := c.send(ctx, step, name, args...); err != nil {
		return pop3.Response{}, err
	}
	return c.reply(ctx, step)
}

// roundTripBlock is roundTrip for a command whose +OK may be followed by a
// multi-line block (CAPA, LIST, UIDL, RETR, TOP).
func (c *conn) roundTripBlock(ctx context.Context, step, name string, args ...string) (pop3.Response, error) {
	if err := c.send(ctx, step, name, args...); err != nil {
		return pop3.Response{}, err
	}
	return c.replyTo(ctx, step, true)
}

// reply reads the one-line reply of a command other than AUTH, where a SASL
// continuation is garbage.
func (c *conn) reply(ctx context.Context, step string) (pop3.Response, error) {
	return c.replyTo(ctx, step, false)
}

func (c *conn) replyTo(ctx context.Context, step string, block bool) (pop3.Response, error) {
	resp, err := c.readResponse(ctx, step, block)
	if err == nil && resp.Continue {
		return pop3.Response{}, c.fail(ctx, step, fmt.Errorf("unexpected continuation %q", sanitize(resp.Text, "")))
	}
	return resp, err
}

// roundTripSASL is roundTrip for an AUTH exchange, where "+ " may come back.
func (c *conn) roundTripSASL(ctx context.Context, step, name string, args ...string) (pop3.Response, error) {
	if err := c.send(ctx, step, name, args...); err != nil {
		return pop3.Response{}, err
	}
	return c.readResponse(ctx, step, false)
}

// readLines reads the lines of a multi-line block up to its "." line,
// undoing dot-stuffing, and passes each to fn. The whole block is consumed
// even if fn fails, so the connection stays in sync; fn's first error is
// returned. The slice passed to fn is valid only during the call.
func (c *conn) readLines(ctx context.Context, step string, fn func(line []byte) error) error {
	var first error
	for {
		line, err := c.r.ReadLine(maxListLine)
		if errors.Is(err, pop3.ErrLineTooLong) {
			if first == nil {
				first = fmt.Errorf("line too long")
			}
			continue
		}
		if err != nil {
			return c.fail(ctx, step, fmt.Errorf("read block: %w", err))
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				break
			}
			line = line[1:]
		}
		if first == nil {
			first = fn(line)
		}
	}
	if first != nil {
		return &pop3.Error{Code: pop3.CodeSysTemp, Text: pop3.ErrBackendTemporary.Text,
			Err: fmt.Errorf("%s: bad reply: %w", c.describe(step), first)}
	}
	return nil
}

// close releases the connection without a word to the server; per RFC 1939
// section 6 a session that ends without QUIT does not enter UPDATE.
func (c *conn) close() error {
	return c.nc.Close()
}

// command runs one single-line exchange under its own deadline.
func (c *conn) command(ctx context.Context, step, name string, args ...string) (pop3.Response, error) {
	disarm, err := c.begin(ctx, step)
	if err != nil {
		return pop3.Response{}, err
	}
	defer disarm()
	return c.roundTrip(ctx, step, name, args...)
}
