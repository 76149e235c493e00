package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/popgate/popgate/pop3"
)

var errReadAfterClose = errors.New("upstream: read after close")

// block streams the body of a RETR or TOP reply, unstuffed, straight from
// the connection. While it is open no other command may be sent.
type block struct {
	c      *conn
	ctx    context.Context
	step   string
	dr     *pop3.DotReader
	disarm func()
	err    error // sticky: io.EOF when complete, or the failure
	closed bool
}

func (c *conn) openBlock(ctx context.Context, step string, disarm func()) *block {
	b := &block{c: c, ctx: ctx, step: step, dr: c.r.DotReader(), disarm: disarm}
	c.block = b
	return b
}

// Read returns the next bytes of the message. Each read may wait up to the
// command timeout; a connection that breaks mid-message is an error, never a
// short message.
func (b *block) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	b.c.refresh(b.ctx)
	n, err := b.dr.Read(p)
	switch {
	case err == io.EOF:
		b.finish(io.EOF)
	case err != nil:
		b.finish(b.c.fail(b.ctx, b.step, fmt.Errorf("read message: %w", err)))
	}
	return n, b.err
}

// finish records the end of the block and frees the connection for the
// next command.
func (b *block) finish(err error) {
	b.err = err
	if b.disarm != nil {
		b.disarm()
		b.disarm = nil
	}
	if b.c.block == b {
		b.c.block = nil
	}
}

// Close reads and discards the rest of the message, so the connection is
// ready for the next command, and reports a failure to do so.
func (b *block) Close() error {
	if b.closed {
		return nil
	}
	var err error
	if b.err == nil {
		_, err = io.Copy(io.Discard, b)
	} else if b.err != io.EOF {
		err = b.err
	}
	b.closed = true
	return err
}
