package e2e

import (
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// popReplyTimeout bounds each reply; login and QUIT may wait for a spool
// lock up to the backend's lock_timeout (10 s by default).
const popReplyTimeout = 30 * time.Second

// popConn is a POP3 client that reports every failure as an error, so that
// a test can tell a server that went away from one that said -ERR.
type popConn struct {
	nc net.Conn
	tp *textproto.Conn
}

// popError is an -ERR reply, the whole line.
type popError string

func (e popError) Error() string { return string(e) }

// dialPOP connects and logs in with USER and PASS.
func dialPOP(addr, user, pass string) (*popConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &popConn{nc: nc, tp: textproto.NewConn(nc)}
	if _, err := c.reply(); err != nil {
		c.Close()
		return nil, err
	}
	for _, line := range []string{"USER " + user, "PASS " + pass} {
		if _, err := c.cmd(line); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// reply reads one status line and returns the text after +OK.
func (c *popConn) reply() (string, error) {
	if err := c.nc.SetDeadline(time.Now().Add(popReplyTimeout)); err != nil {
		return "", err
	}
	line, err := c.tp.ReadLine()
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(line, "+OK"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", popError(line)
}

// send writes one command line.
func (c *popConn) send(line string) error { return c.tp.PrintfLine("%s", line) }

// cmd sends one command and reads its status line.
func (c *popConn) cmd(line string) (string, error) {
	if err := c.send(line); err != nil {
		return "", err
	}
	return c.reply()
}

// stat returns the number of messages.
func (c *popConn) stat() (int, error) {
	text, err := c.cmd("STAT")
	if err != nil {
		return 0, err
	}
	var n int
	var size int64
	if _, err := fmt.Sscanf(text, "%d %d", &n, &size); err != nil {
		return 0, fmt.Errorf("STAT: %q: %w", text, err)
	}
	return n, nil
}

// retr returns message n, dot-stuffing undone and line ends turned into LF.
func (c *popConn) retr(n int) ([]byte, error) {
	if _, err := c.cmd(fmt.Sprintf("RETR %d", n)); err != nil {
		return nil, err
	}
	return io.ReadAll(c.tp.DotReader())
}

func (c *popConn) Close() error { return c.nc.Close() }
