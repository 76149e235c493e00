package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

var (
	// errTLSRequired follows Dovecot's wording, which clients already show
	// their users; [AUTH] is the only code RFC 3206 offers for a refused login.
	errTLSRequired   = &pop3.Error{Code: pop3.CodeAuth, Text: "Plaintext authentication disallowed on non-secure (SSL/TLS) connections; use STLS"}
	errNoUser        = &pop3.Error{Text: "send USER first"}
	errAPOPRefused   = &pop3.Error{Text: "APOP not supported, use USER/PASS"}
	errMechanism     = &pop3.Error{Text: "unsupported SASL mechanism"}
	errAuthCancelled = &pop3.Error{Text: "authentication cancelled"}
	errBadBase64     = &pop3.Error{Text: "invalid base64 in SASL response"}
	errBadPlain      = &pop3.Error{Text: "malformed PLAIN response"}
	errAuthzid       = &pop3.Error{Code: pop3.CodeAuth, Text: "authorization identity not permitted"}
	errNoSTLS        = &pop3.Error{Text: "STLS not available"}
	errAlreadyTLS    = &pop3.Error{Text: "TLS already active"}
	errSTLSAfterUser = &pop3.Error{Text: "STLS not allowed after USER"}
)

// insecure reports whether RequireTLS forbids credentials on this session:
// no TLS and a client address that is not loopback.
func (s *clientSession) insecure() bool {
	if !s.o.RequireTLS || s.info.TLS != tlsNone {
		return false
	}
	ap, err := netip.ParseAddrPort(s.info.Client.String())
	return err != nil || !ap.Addr().Unmap().IsLoopback()
}

func (s *clientSession) quitAuthorization(c pop3.Command) {
	s.w.OK("bye")
	s.done = true
}

// credentialsAllowed checks the argument count of a command that carries
// credentials, and that RequireTLS lets them be sent on this session.
func (s *clientSession) credentialsAllowed(c pop3.Command, n int) bool {
	if !s.args(c, n) {
		return false
	}
	if s.insecure() {
		s.reply(errTLSRequired)
		return false
	}
	return true
}

func (s *clientSession) userCmd(c pop3.Command) {
	if !s.credentialsAllowed(c, 1) {
		return
	}
	s.user = c.Args[0]
	s.w.OK("send PASS")
}

func (s *clientSession) passCmd(c pop3.Command) {
	user := s.user
	s.user = ""
	if user == "" {
		s.done = !s.protocolError(errNoUser, "PASS without USER")
		return
	}
	if !s.credentialsAllowed(c, 1) {
		return
	}
	s.login(pop3.Credentials{Mechanism: pop3.MechUser, User: user, Password: c.Args[0]})
}

func (s *clientSession) apopCmd(c pop3.Command) {
	if !s.credentialsAllowed(c, 2) {
		return
	}
	_, op, err := s.srv.route(c.Args[0])
	if err != nil || !pop3.SupportsAPOP(op) {
		s.reply(errAPOPRefused)
		return
	}
	s.login(pop3.Credentials{Mechanism: pop3.MechAPOP, User: c.Args[0], Digest: c.Args[1], Timestamp: s.timestamp})
}

// authCmd implements AUTH (RFC 5034) with the PLAIN mechanism (RFC 4616).
func (s *clientSession) authCmd(c pop3.Command) {
	if len(c.Args) == 0 {
		s.w.OK("SASL mechanisms follow")
		s.w.Line("PLAIN")
		s.w.Line(".")
		return
	}
	if len(c.Args) > 2 {
		s.syntaxError(c)
		return
	}
	if !strings.EqualFold(c.Args[0], "PLAIN") {
		s.reply(errMechanism)
		return
	}
	if s.insecure() {
		s.reply(errTLSRequired)
		return
	}
	var resp string
	if len(c.Args) == 2 {
		resp = c.Args[1]
	} else {
		var ok bool
		if resp, ok = s.readSASLResponse(); !ok {
			return
		}
	}
	switch resp {
	case "*":
		s.reply(errAuthCancelled)
		return
	case "=": // an empty initial response (RFC 4954 convention, used by RFC 5034)
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		s.reply(errBadBase64)
		return
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		s.reply(errBadPlain)
		return
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		s.reply(errAuthzid)
		return
	}
	s.login(pop3.Credentials{Mechanism: pop3.MechPlain, User: user, Password: pass})
}

// readSASLResponse sends an empty challenge and reads the client's answer.
// Its content is never logged.
func (s *clientSession) readSASLResponse() (string, bool) {
	s.w.Line("+ ")
	if !s.flush() {
		s.done = true
		return "", false
	}
	s.conn.SetReadDeadline(s.readDeadline())
	line, err := s.r.ReadLine(pop3.MaxSASLLine)
	if errors.Is(err, pop3.ErrLineTooLong) {
		s.done = !s.protocolError(err, "SASL response too long")
		return "", false
	}
	if err != nil {
		s.readFailed(err)
		s.done = true
		return "", false
	}
	return strings.TrimSpace(string(line)), true
}

// stlsCmd upgrades the connection (RFC 2595). The reader is reset over the
// TLS connection, so any plaintext the client pipelined after STLS is
// discarded and can never be taken for a command sent under TLS.
func (s *clientSession) stlsCmd(c pop3.Command) {
	switch {
	case len(c.Args) != 0:
		s.syntaxError(c)
		return
	case s.o.TLSConfig == nil:
		s.reply(errNoSTLS)
		return
	case s.info.TLS != tlsNone:
		s.reply(errAlreadyTLS)
		return
	case s.user != "":
		s.reply(errSTLSAfterUser)
		return
	}
	s.w.OK("begin TLS negotiation")
	if !s.flush() {
		s.done = true
		return
	}
	tc := tls.Server(s.conn, s.o.TLSConfig)
	if err := s.handshake(tc); err != nil {
		s.done = true
		return
	}
	s.conn = tc
	s.r.Reset(tc)
	s.w.Reset(deadlineWriter{tc, s})
	s.info.TLS, s.rec.TLS = tlsSTLS, tlsSTLS
}

// login routes the user, asks the gate, opens the maildrop and enters the
// TRANSACTION state.
func (s *clientSession) login(cr pop3.Credentials) {
	cr.Client, cr.Local, cr.SessionID = s.info.Client, s.info.Local, s.info.ID
	s.info.User, s.info.Mechanism, s.rec.User = cr.User, cr.Mechanism, cr.User
	name, op, err := s.srv.route(cr.User)
	s.info.Backend, s.rec.Backend = name, name
	if err != nil {
		s.reply(err)
		s.setResult(session.ResultBackendError, s.cause(err))
		return
	}
	var adm session.Admission
	if s.o.Gate != nil {
		adm, err = s.o.Gate.Admit(s.ctx, &s.info)
		if adm != nil {
			s.adms = append(s.adms, adm)
		}
		if err != nil {
			s.reply(err)
			s.setResult(session.ResultThrottled, s.cause(fmt.Errorf("login refused by policy: %w", err)))
			return
		}
	}
	m, err := op.Open(s.ctx, cr)
	if err != nil {
		if adm != nil {
			adm.Authenticated(err, 0, 0)
		}
		s.openFailed(err)
		return
	}
	s.rec.Auth = "ok"
	// s.mbox is set at each step so that finish closes it if anything
	// below panics.
	s.mbox, s.layers = m, []pop3.Mailbox{m}
	for _, d := range s.o.Decorators {
		m = d.Decorate(s.ctx, &s.info, m)
		s.mbox, s.layers = m, addLayer(s.layers, m)
	}
	n, size, err := m.Stat(s.ctx)
	if err != nil {
		if adm != nil {
			adm.Authenticated(err, 0, 0)
		}
		s.mbox, s.layers = nil, nil
		closeQuietly(m)
		s.reply(err)
		s.setResult(session.ResultBackendError, s.cause(fmt.Errorf("stat after login: %w", err)))
		return
	}
	if adm != nil {
		adm.Authenticated(nil, n, size)
		if err := refusal(adm); err != nil {
			s.mbox, s.layers = nil, nil
			closeQuietly(m)
			s.reply(err)
			s.setResult(session.ResultThrottled, s.cause(fmt.Errorf("login refused by policy: %w", err)))
			return
		}
		m = adm.Mailbox(m)
		s.layers = addLayer(s.layers, m)
	}
	if lim := s.enterUserAddr(cr.User); lim != "" {
		s.mbox, s.layers = nil, nil
		closeQuietly(m)
		s.refuseLimit(lim, "too many sessions for this user from your address")
		return
	}
	s.leavePreLogin()
	s.mbox, s.state = m, stateTransaction
	s.rec.Msgs, s.rec.Bytes = n, size
	s.rec.LeftMsgs, s.rec.LeftBytes = n, size
	s.setResult("", nil)
	s.w.OK(fmt.Sprintf("%d messages (%d octets)", n, size))
}

// refusal is the gate's refusal of a login whose credentials were right.
func refusal(adm session.Admission) error {
	if r, ok := adm.(session.Refuser); ok {
		return r.Refusal()
	}
	return nil
}

// openFailed answers a refused or failed Open.
func (s *clientSession) openFailed(err error) {
	if pop3.CodeOf(err) == pop3.CodeAuth {
		s.rec.Auth = "failed"
		s.sleep(s.o.AuthFailDelay)
		var pe *pop3.Error
		if !errors.As(err, &pe) || pe.Text == "" {
			pe = pop3.ErrAuthFailed
		}
		s.reply(&pop3.Error{Code: pop3.CodeAuth, Text: pe.Text})
		s.setResult(session.ResultAuthFailed, s.cause(fmt.Errorf("login refused: %w", err)))
		return
	}
	s.reply(err)
	result := session.ResultBackendError
	if pop3.CodeOf(err) == pop3.CodeLoginDelay {
		result = session.ResultThrottled
	}
	s.setResult(result, s.cause(fmt.Errorf("open: %w", err)))
}

// sleep waits d, or less if the session is aborted.
func (s *clientSession) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
}

// addLayer appends m to the chain unless a decorator returned the Mailbox
// it was given, so each session.Reporter and Capabler is asked once.
func addLayer(layers []pop3.Mailbox, m pop3.Mailbox) []pop3.Mailbox {
	last := layers[len(layers)-1]
	if t := reflect.TypeOf(m); t == reflect.TypeOf(last) && t.Comparable() && m == last {
		return layers
	}
	return append(layers, m)
}
