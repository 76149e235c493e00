package proxy

import (
	"slices"
	"strings"

	"github.com/popgate/popgate/pop3"
)

// handler runs one command; it writes the reply itself.
type handler func(s *clientSession, c pop3.Command)

var authorizationCommands = map[string]handler{
	"CAPA": (*clientSession).capa,
	"QUIT": (*clientSession).quitAuthorization,
	"USER": (*clientSession).userCmd,
	"PASS": (*clientSession).passCmd,
	"APOP": (*clientSession).apopCmd,
	"AUTH": (*clientSession).authCmd,
	"STLS": (*clientSession).stlsCmd,
}

var transactionCommands = map[string]handler{
	"CAPA": (*clientSession).capa,
	"QUIT": (*clientSession).quitTransaction,
	"STAT": (*clientSession).stat,
	"LIST": (*clientSession).list,
	"UIDL": (*clientSession).uidl,
	"RETR": (*clientSession).retr,
	"TOP":  (*clientSession).top,
	"DELE": (*clientSession).dele,
	"NOOP": (*clientSession).noop,
	"RSET": (*clientSession).rset,
	"LAST": (*clientSession).lastCmd,
}

var (
	errWrongState     = &pop3.Error{Text: "command not valid in this state"}
	errUnknownCommand = &pop3.Error{Text: "unknown command"}
	errSyntax         = &pop3.Error{Text: "invalid arguments"}
)

func (s *clientSession) dispatch(c pop3.Command) {
	cmds, other := authorizationCommands, transactionCommands
	if s.state == stateTransaction {
		cmds, other = other, cmds
	}
	if h, ok := cmds[c.Name]; ok {
		s.saslRefused = false
		before := s.errs
		h(s, c)
		if s.errs == before {
			s.errs = 0 // only consecutive errors count
		}
		return
	}
	if _, ok := other[c.Name]; ok {
		s.done = !s.protocolError(errWrongState, c.Name+" in the wrong state")
		return
	}
	if s.state == stateAuthorization && !s.saslRefused {
		s.closeGarbage(errUnknownCommand, "unknown command before login")
		return
	}
	s.done = !s.protocolError(errUnknownCommand, "unknown command")
}

// syntaxError answers bad arguments without reaching the backend.
func (s *clientSession) syntaxError(c pop3.Command) {
	s.done = !s.protocolError(errSyntax, "bad arguments to "+c.Name)
}

// args reports whether c has n arguments, answering a syntax error if not.
func (s *clientSession) args(c pop3.Command, n int) bool {
	if len(c.Args) != n {
		s.syntaxError(c)
		return false
	}
	return true
}

// capa lists the capabilities of the current state (RFC 2449 section 5).
func (s *clientSession) capa(c pop3.Command) {
	if !s.args(c, 0) {
		return
	}
	s.w.OK("capability list follows")
	for _, line := range s.capabilities() {
		s.w.Line(line)
	}
	s.w.Line(".")
}

func (s *clientSession) capabilities() []string {
	caps := []string{"TOP", "UIDL", "RESP-CODES", "PIPELINING"}
	add := func(lines []string) {
		for _, l := range lines {
			if !slices.Contains(caps, l) {
				caps = append(caps, l)
			}
		}
	}
	if s.state == stateAuthorization {
		caps = append(caps, "AUTH-RESP-CODE")
		if !s.insecure() {
			// Like Dovecot: do not offer what RequireTLS would refuse.
			caps = append(caps, "USER", "SASL "+strings.Join(s.saslMechanisms(), " "))
		}
		if s.o.TLSConfig != nil && s.info.TLS == tlsNone {
			caps = append(caps, "STLS")
		}
		if s.o.Gate != nil {
			add(s.o.Gate.Caps())
		}
	} else {
		if n := len(s.adms); n > 0 {
			add(s.adms[n-1].Caps())
		}
		for _, m := range s.layers {
			if cm, ok := m.(pop3.Capabler); ok {
				add(cm.Caps())
			}
		}
	}
	return append(caps, "IMPLEMENTATION popgate")
}
