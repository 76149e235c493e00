package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// session is one client connection.
type clientSession struct {
	srv *Server
	o   *Options

	conn net.Conn         // what commands are read from: the accepted conn, or TLS over it
	pc   *proxyproto.Conn // the PROXY layer, nil if absent
	raw  net.Conn         // the socket
	r    *pop3.Reader
	w    *pop3.Writer

	ctx    context.Context
	cancel context.CancelFunc

	info         session.Info
	rec          session.Record
	timestamp    string       // the greeting's APOP challenge, if any
	greeted      pop3.Greeted // the default backend's connection that gave it
	state        state
	user         string // name given by USER, waiting for PASS
	mbox         pop3.Mailbox
	layers       []pop3.Mailbox // every Mailbox in the chain, innermost first
	adms         []session.Admission
	writeTimeout time.Duration // for each write; shortened for last words
	errs         int           // consecutive protocol errors
	last         int           // LAST (RFC 1725)
	// unread is the last message sent whole, until the client shows it
	// read it (Num 0: none); see confirmSent.
	unread session.BrokenTransfer
	// openAs is the user whose maildrop this session holds open, counted
	// in Server.OpenMaildrops until finish.
	openAs      string
	addrsSeen   bool
	done        bool
	saslRefused bool // an AUTH mechanism was refused: tolerate the responses a client may still send

	// idleUntil is when the client's silence ends the session: the read
	// deadline of the current wait for a command.
	idleUntil time.Time
	resumed   bool   // the current wait was parked, and goes on from there
	parkToken uint32 // the parker's key while parked, guarded by its lock

	preAddr  netip.Addr // the key of the pre-login slot held
	preHeld  bool
	userSlot *userAddr // the logged-in slot held, nil if none
	overCap  string    // the connection limit that refuses this session

	waiting atomic.Bool // blocked reading a command in AUTHORIZATION
	aborted atomic.Bool
}

// pid goes into every APOP timestamp; os.Getpid is a system call each time.
var pid = os.Getpid()

func (s *Server) newSession(c net.Conn, mode string) *clientSession {
	pc, raw := connParts(c)
	id := s.sessionID()
	ctx, cancel := context.WithCancel(context.Background())
	sess := &clientSession{
		srv: s, o: &s.o,
		conn: c, pc: pc, raw: raw,
		ctx: ctx, cancel: cancel,
	}
	sess.info = session.Info{ID: id, TLS: mode, Client: raw.RemoteAddr(), Local: raw.LocalAddr()}
	sess.rec = session.Record{Session: id, TLS: mode, Auth: session.AuthNone, Start: time.Now()}
	sess.r = pop3.NewReader(c)
	// Until the first read has settled the PROXY header, plain-text replies
	// go straight to the socket: the greeting must not wait for it.
	out := c
	if mode == tlsNone {
		out = raw
	}
	sess.writeTimeout = s.o.IdleTimeout
	sess.w = pop3.NewWriter(deadlineWriter{out, sess})
	return sess
}

// greet writes the greeting. It is a function of its own to keep serve's
// frame small, which is on the stack of every idle session (see
// readCommand).
//
//go:noinline
func (s *clientSession) greet() {
	s.timestamp = s.apopChallenge()
	if s.timestamp == "" {
		s.w.OK(s.o.Hostname + " POP3 ready")
		return
	}
	s.w.OK(s.o.Hostname + " POP3 ready " + s.timestamp)
}

// check is the server logger's Check. A session keeps no logger of its
// own: a clone with the session id costs about 2 KiB, as much as the rest of
// an idle session's heap, so each entry adds the id itself, and fields are
// built only for entries that are logged.
func (s *clientSession) check(lvl zapcore.Level, msg string) *zapcore.CheckedEntry {
	return s.srv.log.Check(lvl, msg)
}

func (s *Server) sessionID() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + strconv.FormatUint(s.nextID.Add(1), 36)
}

// deadlineWriter extends the write deadline before every write, so a client
// that stops reading is dropped after the idle timeout, while a long RETR to
// a slow but live client is not.
type deadlineWriter struct {
	c net.Conn
	s *clientSession
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(w.s.writeTimeout))
	return w.c.Write(p)
}

// idleUnauthenticated reports whether the session may be closed at once on
// shutdown.
func (s *clientSession) idleUnauthenticated() bool { return s.waiting.Load() }

// abort closes the connection from another goroutine; the session then
// ends without UPDATE.
func (s *clientSession) abort() {
	if !s.aborted.Swap(true) {
		s.cancel()
		s.raw.Close()
		if p := s.srv.parker.Load(); p != nil {
			p.wakeSession(s)
		}
	}
}

// serve runs the session from the greeting until it ends or is parked.
func (s *clientSession) serve() { s.run(true) }

// resume carries on a parked session, on a new goroutine.
func (s *clientSession) resume() { s.run(false) }

// run runs the session until it ends, then releases it, or until it is
// parked (see Options.ParkIdleAfter), when another goroutine has taken it.
func (s *clientSession) run(start bool) {
	parked := false
	defer func() {
		if !parked {
			s.end(recover())
		}
	}()
	if start && !s.open() {
		return
	}
	parked = s.commands()
}

// end recovers from a panic (v, if not nil), then releases the session.
func (s *clientSession) end(v any) {
	defer s.srv.remove(s)
	defer s.finish()
	s.recovered(v)
}

// open starts the session up to the greeting; false means it is over.
func (s *clientSession) open() bool {
	s.enterPreLogin()
	if s.info.TLS == tlsImplicit {
		// A refused TLS client can read the refusal only over TLS.
		if err := s.handshake(s.conn.(*tls.Conn)); err != nil {
			return false
		}
	}
	if s.overCap != "" {
		s.refuseOverCap()
		return false
	}
	s.greet()
	return true
}

// commands reads and runs commands until the session ends (false) or is
// parked (true).
func (s *clientSession) commands() bool {
	for !s.done {
		cmd, st := s.readCommand()
		switch st {
		case readParked:
			return true
		case readEnd:
			return false
		}
		s.dispatch(cmd)
	}
	s.flush()
	return false
}

// handshake runs the TLS handshake under its own deadline.
func (s *clientSession) handshake(tc *tls.Conn) error {
	tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	err := tc.HandshakeContext(s.ctx)
	tc.SetDeadline(time.Time{})
	s.resolveAddrs()
	if err != nil {
		s.setResult(session.ResultProtocolError, s.proxyHeaderError(err, fmt.Errorf("TLS handshake: %w", err)))
	}
	return err
}

// readOutcome is how a wait for a command ended.
type readOutcome int

const (
	readOK     readOutcome = iota // a command was read
	readEnd                       // the session must end
	readParked                    // the session was parked: leave it alone
)

// readCommand flushes pending replies when the client has nothing more
// pipelined, then reads and parses one command.
func (s *clientSession) readCommand() (pop3.Command, readOutcome) {
	for {
		if !s.beforeRead() {
			return pop3.Command{}, readEnd
		}
		err := s.idleWait()
		if err == errParked {
			return pop3.Command{}, readParked
		}
		var line []byte
		if err == nil {
			line, err = s.r.ReadLine(pop3.MaxCommandLine)
		}
		s.waiting.Store(false)
		s.resolveAddrs()
		if s.overCap != "" {
			s.refuseOverCap()
			return pop3.Command{}, readEnd
		}
		if err == nil {
			s.confirmSent()
			var cmd pop3.Command
			if cmd, err = s.parseCommand(line); err == nil {
				return cmd, readOK
			}
		}
		if !s.commandFailed(err) {
			return pop3.Command{}, readEnd
		}
	}
}

// errParked tells readCommand that idleWait parked the session.
var errParked = errors.New("session parked")

// idleWait waits for the first bytes of a logged-in client's next command
// for up to ParkIdleAfter, and parks the session if none came (returning
// errParked). A nil error means the command can be read as usual; any
// other is the read's own, which ends the wait as ReadLine's would. A
// resumed session goes on waiting, up to its idle deadline.
//
//go:noinline
func (s *clientSession) idleWait() error {
	if s.resumed {
		s.resumed = false
		return nil
	}
	if s.state != stateTransaction || s.r.Buffered() > 0 {
		return nil
	}
	p := s.srv.sessionParker()
	if p == nil {
		return nil
	}
	early := time.Now().Add(s.o.ParkIdleAfter)
	if !early.Before(s.idleUntil) {
		return nil
	}
	// Only the wait for the first byte may end early: a line cut short by
	// a timeout would be lost.
	s.conn.SetReadDeadline(early)
	err := s.r.Wait()
	s.conn.SetReadDeadline(s.idleUntil)
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	// Nothing came, and every layer above the socket (PROXY, TLS, the
	// Reader) has given up what it held: from now on the socket alone
	// says when the client speaks.
	if p.park(s) {
		return errParked
	}
	return nil
}

// The helpers of readCommand are out of line: an idle session waits inside
// readCommand, and when the frames on that path stay small, the runtime
// shrinks each idle session's stack from 8 KiB to 4 KiB.

// beforeRead flushes pending replies when the client has nothing more
// pipelined and arms the idle timeout. It returns false when the session
// must end.
//
//go:noinline
func (s *clientSession) beforeRead() bool {
	if s.r.Buffered() == 0 && !s.flush() {
		return false
	}
	if !s.addrsSeen && mayProxy(s.o.ProxyProtocolFrom, s.raw.RemoteAddr()) {
		// The greeting is out, so a PROXY header can be waited for now
		// (within its own timeout): the per-address caps need the address
		// even from a client that sends nothing more.
		s.waiting.Store(true)
		s.resolveAddrs()
		if s.overCap != "" {
			s.refuseOverCap()
			return false
		}
	}
	if !s.resumed {
		s.idleUntil = s.readDeadline()
	}
	s.conn.SetReadDeadline(s.idleUntil)
	s.waiting.Store(s.state == stateAuthorization)
	return true
}

// readDeadline is the idle timeout from now, and before login at most the
// end of the login timeout.
func (s *clientSession) readDeadline() time.Time {
	d := time.Now().Add(s.o.IdleTimeout)
	if s.state == stateAuthorization && s.o.LoginTimeout > 0 {
		if end := s.rec.Start.Add(s.o.LoginTimeout); end.Before(d) {
			return end
		}
	}
	return d
}

// parseCommand parses a command line and hands the read buffer back, so
// that a session waiting on its backend holds none.
//
//go:noinline
func (s *clientSession) parseCommand(line []byte) (pop3.Command, error) {
	cmd, err := pop3.ParseCommand(line)
	s.r.Release()
	if err == nil {
		s.traceCommand(cmd)
	}
	return cmd, err
}

// commandFailed handles a command that could not be read or parsed. It
// returns true when the session goes on with the next command.
//
//go:noinline
func (s *clientSession) commandFailed(err error) bool {
	switch {
	case errors.Is(err, pop3.ErrLineTooLong):
		return s.protocolError(err, "line too long")
	case errors.Is(err, pop3.ErrBadCommand), errors.Is(err, pop3.ErrArgTooLong):
		s.traceMalformed(err)
		if s.state == stateAuthorization && !s.saslRefused {
			s.closeGarbage(err, "malformed command before login")
			return false
		}
		return s.protocolError(err, "malformed command")
	}
	s.readFailed(err)
	return false
}

// traceCommand and traceMalformed log at Debug level, out of readCommand's
// frame for the same reason.
//
//go:noinline
func (s *clientSession) traceCommand(cmd pop3.Command) {
	if ce := s.check(zap.DebugLevel, "command"); ce != nil {
		ce.Write(zap.String("session", s.info.ID), zap.Stringer("command", cmd))
	}
}

//go:noinline
func (s *clientSession) traceMalformed(err error) {
	if ce := s.check(zap.DebugLevel, "malformed command"); ce != nil {
		ce.Write(zap.String("session", s.info.ID), zap.Error(err))
	}
}

// readFailed classifies the end of the command stream.
func (s *clientSession) readFailed(err error) {
	var ne net.Error
	switch {
	case s.aborted.Load():
		s.rec.Err = s.cause(errors.New("closed by server shutdown"))
	case s.headerStalled(err):
		s.setResult(session.ResultTimeout, fmt.Errorf("PROXY header from %s not complete within %s", s.raw.RemoteAddr(), proxyHeaderTimeout))
	case errors.As(err, &ne) && ne.Timeout() && s.state == stateAuthorization &&
		s.o.LoginTimeout > 0 && time.Since(s.rec.Start) >= s.o.LoginTimeout:
		s.reply(&pop3.Error{Code: pop3.CodeSysTemp, Text: "login timeout"})
		s.flushWithin(time.Second)
		s.setResult(session.ResultTimeout, s.cause(fmt.Errorf("no login within %s", s.o.LoginTimeout)))
	case errors.As(err, &ne) && ne.Timeout():
		s.reply(&pop3.Error{Code: pop3.CodeSysTemp, Text: "idle timeout"})
		s.flushWithin(time.Second)
		s.setResult(session.ResultTimeout, s.cause(fmt.Errorf("client idle for %s", s.o.IdleTimeout)))
	case s.isProxyHeaderError(err):
		s.setResult(session.ResultProtocolError, s.proxyHeaderError(err, err))
	default:
		if errors.Is(err, io.EOF) {
			// A clean close: the client read everything before closing.
			s.confirmSent()
		}
		if s.rec.Result == "" {
			s.setResult(session.ResultClientGone, s.cause(fmt.Errorf("client closed the connection: %w", err)))
		}
	}
}

// headerStalled reports a read that failed because a trusted peer began a
// PROXY header and did not finish it before proxyHeaderTimeout: go-proxyproto
// reports that as a plain timeout, and before the idle timeout nothing else
// can time a read out. (A version 1 header is judged at once.)
func (s *clientSession) headerStalled(err error) bool {
	if s.pc == nil || s.pc.ProxyHeader() != nil {
		return false
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	elapsed := time.Since(s.rec.Start)
	return elapsed >= proxyHeaderTimeout && elapsed < s.o.IdleTimeout
}

func (s *clientSession) isProxyHeaderError(err error) bool {
	// go-proxyproto's errors are unexported-type sentinels sharing a prefix.
	return s.pc != nil && strings.HasPrefix(err.Error(), "proxyproto: ")
}

// proxyHeaderError names the peer in a refused PROXY header's cause.
func (s *clientSession) proxyHeaderError(err, fallback error) error {
	if !s.isProxyHeaderError(err) {
		return s.cause(fallback)
	}
	if errors.Is(err, proxyproto.ErrSuperfluousProxyHeader) {
		return fmt.Errorf("PROXY header from untrusted peer %s refused: %w", s.raw.RemoteAddr(), err)
	}
	return fmt.Errorf("malformed PROXY header from %s: %w", s.raw.RemoteAddr(), err)
}

// resolveAddrs records the client address once the PROXY header (if any)
// has been read, which the first read does. Asking earlier would block.
func (s *clientSession) resolveAddrs() {
	if s.addrsSeen {
		return
	}
	s.addrsSeen = true
	if s.pc != nil {
		if h := s.pc.ProxyHeader(); h != nil && !h.Command.IsLocal() && h.SourceAddr != nil {
			s.info.Client = h.SourceAddr
			s.info.Via = s.raw.RemoteAddr()
			if h.DestinationAddr != nil {
				s.info.Local = h.DestinationAddr
			}
		}
		s.rekeyPreLogin()
		if s.info.TLS == tlsNone {
			// From now on replies may go through the PROXY layer too.
			s.w.Reset(deadlineWriter{s.conn, s})
		}
	}
}

// flush sends pending replies; false means the client is gone.
func (s *clientSession) flush() bool {
	if err := s.w.Flush(); err != nil {
		if s.rec.Result == "" {
			s.setResult(session.ResultClientGone, s.cause(fmt.Errorf("write to client: %w", err)))
		}
		return false
	}
	return true
}

// flushWithin makes a best-effort last write to a client that may not read.
func (s *clientSession) flushWithin(d time.Duration) {
	s.writeTimeout = d
	s.w.Flush()
}

// reply writes a status line for err: an *pop3.Error as is, anything else
// as an internal error.
func (s *clientSession) reply(err error) {
	s.w.Error(err)
}

// protocolError answers a client mistake and counts it; false means the
// limit was reached and the session must end.
func (s *clientSession) protocolError(err error, what string) bool {
	s.errs++
	s.reply(err)
	if s.errs >= s.o.MaxProtocolErrors {
		s.flushWithin(time.Second)
		s.setResult(session.ResultProtocolError, s.cause(fmt.Errorf("%d protocol errors in a row, last: %s", s.errs, what)))
		return false
	}
	return true
}

// closeGarbage ends a session that spoke something other than POP3 before
// login (a cross-protocol attack, or a confused client).
func (s *clientSession) closeGarbage(err error, what string) {
	s.reply(err)
	s.flushWithin(time.Second)
	s.setResult(session.ResultProtocolError, s.cause(errors.New(what)))
	s.done = true
}

// setResult records how the session is going; a later login success clears it.
func (s *clientSession) setResult(result string, err error) {
	s.rec.Result = result
	s.rec.Err = err
}

// cause prefixes err with the backend and user, when known.
func (s *clientSession) cause(err error) error {
	var p []string
	if s.info.Backend != "" {
		p = append(p, "backend "+s.info.Backend)
	}
	if s.info.User != "" {
		p = append(p, "user "+s.info.User)
	}
	if len(p) == 0 {
		return err
	}
	return fmt.Errorf("%s: %w", strings.Join(p, ": "), err)
}
