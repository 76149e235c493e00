package upstream

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// mailbox is a logged-in session on the legacy server. Each method is one
// POP3 command. A body returned by Retr or Top must be closed before the
// next method is called; until then every method fails.
type mailbox struct {
	c     *conn
	caps  caps
	count int   // STAT at login
	size  int64 // STAT at login
	dele  bool  // a DELE succeeded since login or the last RSET
	// pooled is set when the login used a connection from the pool.
	pooled bool
	// status is the server's +OK to the command statusCmd, which was the
	// last one while statusAt is the connection's count of replies.
	status    pop3.Response
	statusCmd string
	statusAt  int

	closeOnce sync.Once
	closeErr  error
}

var (
	_ pop3.Mailbox       = (*mailbox)(nil)
	_ pop3.StatusRelayer = (*mailbox)(nil)
	_ session.Reporter   = (*mailbox)(nil)
)

// Report implements session.Reporter: the session line says whether the
// login used a pooled connection.
func (m *mailbox) Report(r *session.Record) { r.Pooled = m.pooled }

// Status implements pop3.StatusRelayer.
func (m *mailbox) Status(cmd string) (pop3.Response, bool) {
	return m.status, cmd == m.statusCmd && m.statusAt == m.c.replies && m.status.OK
}

// relayed records the +OK just read as the reply to cmd.
func (m *mailbox) relayed(cmd string) { m.relay(cmd, m.c.ok) }

// relay records resp as the reply to cmd, current until the next reply.
func (m *mailbox) relay(cmd string, resp pop3.Response) {
	m.status, m.statusCmd, m.statusAt = resp, cmd, m.c.replies
}

// Stat answers from the STAT taken at login while nothing is marked
// deleted: the maildrop does not change during a POP3 session (RFC 1939
// section 8), so asking again would only cost a round trip.
func (m *mailbox) Stat(ctx context.Context) (int, int64, error) {
	if !m.dele {
		if err := m.c.usable(ctx, "stat"); err != nil {
			return 0, 0, err
		}
		return m.count, m.size, nil
	}
	n, size, err := m.stat(ctx)
	if err == nil {
		m.relayed("STAT")
	}
	return n, size, err
}

// stat asks the server.
func (m *mailbox) stat(ctx context.Context) (int, int64, error) {
	resp, err := m.c.command(ctx, "stat", "STAT")
	if err != nil {
		return 0, 0, err
	}
	return m.statReply(ctx, resp)
}

// statReply reads the counts from STAT's reply.
func (m *mailbox) statReply(ctx context.Context, resp pop3.Response) (int, int64, error) {
	const step = "stat"
	if !resp.OK {
		return 0, 0, m.c.refused(step, resp, pop3.CodeSysTemp, pop3.ErrBackendTemporary.Text)
	}
	n, size, err := parseScan([]byte(resp.Text))
	if err != nil {
		return 0, 0, m.c.fail(ctx, step, err)
	}
	return n, size, nil
}

func (m *mailbox) List(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	return m.listing(ctx, n, "LIST", func(line []byte) (pop3.MsgInfo, error) {
		num, size, err := parseScan(line)
		if err == nil && num < 1 {
			err = fmt.Errorf("scan listing %q: message number 0", trim(line))
		}
		return pop3.MsgInfo{Num: num, Size: size}, err
	})
}

func (m *mailbox) Uidl(ctx context.Context, n int) ([]pop3.MsgInfo, error) {
	if !m.caps.uidl {
		return nil, m.unsupported("UIDL")
	}
	return m.listing(ctx, n, "UIDL", func(line []byte) (pop3.MsgInfo, error) {
		num, uid, err := parseUID(line)
		return pop3.MsgInfo{Num: num, UID: uid}, err
	})
}

// listing runs LIST or UIDL, for one message (a single-line reply) or for
// all (a multi-line reply). A line that does not parse fails the whole
// listing rather than silently losing a message.
func (m *mailbox) listing(ctx context.Context, n int, cmd string, parse func([]byte) (pop3.MsgInfo, error)) ([]pop3.MsgInfo, error) {
	step := strings.ToLower(cmd)
	var args []string
	if n > 0 {
		s := strconv.Itoa(n)
		step += " " + s
		args = []string{s}
	} else if n < 0 {
		return nil, checkNum(n)
	}
	disarm, err := m.c.begin(ctx, step)
	if err != nil {
		return nil, err
	}
	defer disarm()
	resp, err := m.c.roundTripBlock(ctx, step, cmd, args...)
	if err != nil {
		return nil, err
	}
	if !resp.OK {
		return nil, m.c.refused(step, resp, pop3.CodeNone, "")
	}
	if n > 0 {
		mi, err := parse([]byte(resp.Text))
		if err == nil && mi.Num != n {
			err = fmt.Errorf("reply is for message %d", mi.Num)
		}
		if err != nil {
			return nil, m.c.fail(ctx, step, err)
		}
		m.relayed(cmd)
		return []pop3.MsgInfo{mi}, nil
	}
	var list []pop3.MsgInfo
	err = m.c.readLines(ctx, step, func(line []byte) error {
		mi, err := parse(line)
		if err != nil {
			return err
		}
		list = append(list, mi)
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.relayed(cmd)
	return list, nil
}

func (m *mailbox) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	if err := checkNum(n); err != nil {
		return nil, err
	}
	s := strconv.Itoa(n)
	return m.body(ctx, "retr "+s, "RETR", s)
}

func (m *mailbox) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	if err := checkNum(n); err != nil {
		return nil, err
	}
	if lines < 0 {
		return nil, &pop3.Error{Text: "invalid line count", Err: fmt.Errorf("upstream: top %d %d", n, lines)}
	}
	if !m.caps.top {
		return nil, m.unsupported("TOP")
	}
	s, l := strconv.Itoa(n), strconv.Itoa(lines)
	return m.body(ctx, "top "+s+" "+l, "TOP", s, l)
}

// body runs RETR or TOP and returns the streaming message body. The
// deadline and ctx watch stay armed until the body is finished.
func (m *mailbox) body(ctx context.Context, step, cmd string, args ...string) (io.ReadCloser, error) {
	disarm, err := m.c.begin(ctx, step)
	if err != nil {
		return nil, err
	}
	resp, err := m.c.roundTripBlock(ctx, step, cmd, args...)
	if err != nil {
		disarm()
		return nil, err
	}
	if !resp.OK {
		disarm()
		return nil, m.c.refused(step, resp, pop3.CodeNone, "")
	}
	m.relayed(cmd)
	return m.c.openBlock(ctx, step, disarm), nil
}

func (m *mailbox) Dele(ctx context.Context, n int) error {
	if err := checkNum(n); err != nil {
		return err
	}
	s := strconv.Itoa(n)
	if err := m.simple(ctx, "dele "+s, "DELE", s); err != nil {
		return err
	}
	m.dele = true
	return nil
}

func (m *mailbox) Rset(ctx context.Context) error {
	if err := m.simple(ctx, "rset", "RSET"); err != nil {
		return err
	}
	m.dele = false
	return nil
}

func (m *mailbox) Noop(ctx context.Context) error { return m.simple(ctx, "noop", "NOOP") }

// simple runs a command whose +OK carries nothing of interest.
func (m *mailbox) simple(ctx context.Context, step, cmd string, args ...string) error {
	resp, err := m.c.command(ctx, step, cmd, args...)
	if err != nil {
		return err
	}
	if !resp.OK {
		return m.c.refused(step, resp, pop3.CodeNone, "")
	}
	m.relayed(cmd)
	return nil
}

// Update sends QUIT, which makes the server enter UPDATE and delete what
// was marked. The result is reported only if the server confirms with +OK;
// the counts come from STAT at login and, if anything was deleted, a STAT
// just before QUIT. The connection is closed in every case.
func (m *mailbox) Update(ctx context.Context) (pop3.UpdateResult, error) {
	defer m.Close()
	res := pop3.UpdateResult{LeftMsgs: m.count, LeftBytes: m.size}
	if m.dele {
		n, size, err := m.stat(ctx)
		if err != nil {
			return pop3.UpdateResult{}, err
		}
		res = pop3.UpdateResult{
			DeletedMsgs: m.count - n, DeletedBytes: m.size - size,
			LeftMsgs: n, LeftBytes: size,
		}
	}
	const step = "quit"
	resp, err := m.c.command(ctx, step, "QUIT")
	if err != nil {
		return pop3.UpdateResult{}, err
	}
	if !resp.OK {
		return pop3.UpdateResult{}, m.c.refused(step, resp, pop3.CodeSysTemp, "deleting messages failed")
	}
	m.relayed("QUIT")
	return res, nil
}

// Close drops the connection without QUIT; per RFC 1939 section 6 the
// server then does not enter UPDATE, so no message is deleted. It is safe to
// call more than once and from another goroutine, which makes a blocked
// command return.
func (m *mailbox) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.c.close() })
	return m.closeErr
}

// unsupported reports a command the server did not list in CAPA.
func (m *mailbox) unsupported(cmd string) error {
	return &pop3.Error{Text: pop3.ErrUnsupported.Text, Err: fmt.Errorf("%s: server does not offer %s", m.c.describe(strings.ToLower(cmd)), cmd)}
}
