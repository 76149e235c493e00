package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
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
	errBadLogin      = &pop3.Error{Text: "empty user name in LOGIN response"}
	errBadCRAM       = &pop3.Error{Text: "malformed CRAM-MD5 response"}
	errCRAMInitial   = &pop3.Error{Text: "CRAM-MD5 takes no initial response"}
	errCRAMRefused   = &pop3.Error{Text: "CRAM-MD5 not available for this account, use another mechanism"}
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
		s.rec.Auth = session.AuthNotChecked
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
	s.w.OK("") // as Dovecot and popa3d answer, so a relayed session looks the same
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
	name, op, err := s.srv.route(c.Args[0])
	if err != nil || !s.canAPOP(name, op) {
		s.reply(errAPOPRefused)
		return
	}
	s.login(pop3.Credentials{Mechanism: pop3.MechAPOP, User: c.Args[0], Digest: c.Args[1], Timestamp: s.timestamp})
}

// saslMechanisms are the mechanisms AUTH offers, in CAPA's order:
// CRAM-MD5 only while some backend can verify it.
func (s *clientSession) saslMechanisms() []string {
	mechs := []string{string(pop3.MechPlain), string(pop3.MechLogin)}
	if s.digestsVerifiable() || s.relaysCRAM() {
		mechs = append(mechs, string(pop3.MechCRAMMD5))
	}
	return mechs
}

// The challenges of AUTH LOGIN, as Dovecot and Exchange send them.
var (
	loginUserChallenge = base64.StdEncoding.EncodeToString([]byte("Username:"))
	loginPassChallenge = base64.StdEncoding.EncodeToString([]byte("Password:"))
)

// authCmd implements AUTH (RFC 5034) with the PLAIN (RFC 4616) and LOGIN
// mechanisms.
func (s *clientSession) authCmd(c pop3.Command) {
	if len(c.Args) == 0 {
		s.w.OK("SASL mechanisms follow")
		for _, m := range s.saslMechanisms() {
			s.w.Line(m)
		}
		s.w.Line(".")
		return
	}
	if len(c.Args) > 2 {
		s.syntaxError(c)
		return
	}
	mech := pop3.Mechanism(strings.ToUpper(c.Args[0]))
	if !slices.Contains(s.saslMechanisms(), string(mech)) {
		// A client may send its responses anyway: they must not end the
		// session as garbage.
		s.reply(errMechanism)
		s.saslRefused = true
		return
	}
	if s.insecure() {
		s.reply(errTLSRequired)
		return
	}
	switch mech {
	case pop3.MechLogin:
		s.authLogin(c)
		return
	case pop3.MechCRAMMD5:
		s.authCRAM(c)
		return
	}
	raw, ok := s.saslStep(c, "")
	if !ok {
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

// authLogin runs AUTH LOGIN: the user name (possibly as the initial
// response), then the password, each base64 after its challenge.
func (s *clientSession) authLogin(c pop3.Command) {
	user, ok := s.saslStep(c, loginUserChallenge)
	if !ok {
		return
	}
	if len(user) == 0 {
		s.reply(errBadLogin)
		return
	}
	pass, ok := s.saslStep(pop3.Command{}, loginPassChallenge)
	if !ok {
		return
	}
	s.login(pop3.Credentials{Mechanism: pop3.MechLogin, User: string(user), Password: string(pass)})
}

// authCRAM runs AUTH CRAM-MD5 (RFC 2195): a challenge, then "user
// hex-digest". The challenge is the default backend's, from its greeted
// connection, when it offers CRAM-MD5 (users routed there are relayed on
// it), else popgate's own; users whose backend verifies digests itself are
// checked over either.
func (s *clientSession) authCRAM(c pop3.Command) {
	if len(c.Args) == 2 {
		// The server speaks first in CRAM-MD5 (RFC 5034 section 4).
		s.reply(errCRAMInitial)
		return
	}
	challenge, relayed := s.ownTimestamp(), false
	if s.relaysCRAM() {
		ch, err := s.greeted.(pop3.SASLChallenger).Challenge(s.ctx, pop3.MechCRAMMD5)
		if err != nil {
			s.dropGreeted()
			s.reply(err)
			s.setResult(session.ResultBackendError, s.cause(fmt.Errorf("CRAM-MD5 challenge: %w", err)))
			return
		}
		challenge, relayed = ch, true
	}
	raw, ok := s.saslStep(pop3.Command{}, base64.StdEncoding.EncodeToString([]byte(challenge)))
	if !ok {
		if relayed {
			s.dropGreeted() // its server still waits for a response
		}
		return
	}
	// The user name may hold spaces; the digest is the last word.
	resp := string(raw)
	i := strings.LastIndexByte(resp, ' ')
	if i <= 0 || i == len(resp)-1 {
		s.reply(errBadCRAM)
		return
	}
	user, digest := resp[:i], resp[i+1:]
	name, op, err := s.srv.route(user)
	relay := relayed && name == s.o.DefaultBackend
	if relayed && !relay {
		s.dropGreeted()
	}
	if err != nil || !relay && !pop3.VerifiesAPOP(op) {
		s.reply(errCRAMRefused)
		return
	}
	s.login(pop3.Credentials{Mechanism: pop3.MechCRAMMD5, User: user, Digest: digest, Timestamp: challenge})
}

// relaysCRAM reports whether the default backend's greeted connection can
// relay CRAM-MD5 (asking its server's capabilities once).
func (s *clientSession) relaysCRAM() bool {
	ch, ok := s.greeted.(pop3.SASLChallenger)
	return ok && ch.Offers(s.ctx, pop3.MechCRAMMD5)
}

// saslStep returns one decoded client response: c's initial response if it
// has one, else the answer to challenge. It answers a cancel or bad base64
// itself and then returns ok=false.
func (s *clientSession) saslStep(c pop3.Command, challenge string) ([]byte, bool) {
	var resp string
	if len(c.Args) == 2 {
		resp = c.Args[1]
	} else {
		var ok bool
		if resp, ok = s.readSASLResponse(challenge); !ok {
			return nil, false
		}
	}
	switch resp {
	case "*":
		s.reply(errAuthCancelled)
		return nil, false
	case "=": // an empty initial response (RFC 4954 convention, used by RFC 5034)
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		s.reply(errBadBase64)
		return nil, false
	}
	return raw, true
}

// readSASLResponse sends a challenge and reads the client's answer.
// Its content is never logged.
func (s *clientSession) readSASLResponse(challenge string) (string, bool) {
	s.w.Line("+ " + challenge)
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
		s.rec.Auth = session.AuthNotChecked
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
			s.rec.Auth = session.AuthNotChecked
			s.reply(err)
			s.setResult(session.ResultThrottled, s.cause(fmt.Errorf("login refused by policy: %w", err)))
			return
		}
	}
	s.handGreeted(&cr, name)
	m, err := op.Open(s.ctx, cr)
	if err != nil {
		if adm != nil {
			adm.Authenticated(err, 0, 0)
		}
		s.openFailed(err)
		return
	}
	s.rec.Auth = session.AuthOK
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
	s.openAs = cr.User
	s.srv.open.add(s.openAs, 1)
	s.rec.Msgs, s.rec.Bytes = n, size
	s.rec.LeftMsgs, s.rec.LeftBytes = n, size
	s.setResult("", nil)
	s.okRelayed("LOGIN", fmt.Sprintf("%d messages (%d octets)", n, size))
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
		s.rec.Auth = session.AuthFailed
		s.rec.AuthFailDelay += s.sleep(s.o.AuthFailDelay)
		var pe *pop3.Error
		if !errors.As(err, &pe) || pe.Text == "" {
			pe = pop3.ErrAuthFailed
		}
		s.reply(&pop3.Error{Code: pop3.CodeAuth, Text: pe.Text})
		s.setResult(session.ResultAuthFailed, s.cause(fmt.Errorf("login refused: %w", err)))
		return
	}
	s.reply(err)
	// [IN-USE] and [LOGIN-DELAY] come only after the credentials were
	// accepted (RFC 2449, RFC 3206).
	result, auth := session.ResultBackendError, session.AuthUnknown
	switch pop3.CodeOf(err) {
	case pop3.CodeInUse:
		result, auth = session.ResultInUse, session.AuthOK
	case pop3.CodeLoginDelay:
		result, auth = session.ResultThrottled, session.AuthOK
	}
	s.rec.Auth = auth
	s.setResult(result, s.cause(fmt.Errorf("open: %w", err)))
}

// sleep waits d, or less if the session is aborted, and returns the time
// it waited.
func (s *clientSession) sleep(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
	return time.Since(start)
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
