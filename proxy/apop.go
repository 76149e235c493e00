package proxy

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
)

// apopGreetTimeout bounds the wait for the default backend's greeting
// before the client is greeted; past it, the client gets popgate's own.
const apopGreetTimeout = 5 * time.Second

// apopChallenge returns the timestamp for the greeting (RFC 1939 section
// 7): the default backend's own when it relays APOP, from a connection
// opened now and kept for the login; popgate's when some backend verifies
// APOP itself; none when nothing could verify an APOP digest, so that
// clients do not try.
func (s *clientSession) apopChallenge() string {
	if g, ok := pop3.RelaysAPOP(s.o.Backends[s.o.DefaultBackend]); ok {
		client := s.info.Client
		if s.pc != nil {
			client = nil // not known before the PROXY header is read
		}
		ctx, cancel := context.WithTimeout(s.ctx, apopGreetTimeout)
		greeted, err := g.Greet(ctx, client, s.info.Local)
		cancel()
		if err == nil {
			s.greeted = greeted
			return greeted.Timestamp()
		}
		if ce := s.check(zap.DebugLevel, "no APOP timestamp from the default backend"); ce != nil {
			ce.Write(zap.String("session", s.info.ID), zap.Error(err))
		}
	}
	if s.digestsVerifiable() {
		return s.ownTimestamp()
	}
	return ""
}

// ownTimestamp is a fresh challenge of popgate's own, unique per session.
func (s *clientSession) ownTimestamp() string {
	return fmt.Sprintf("<%d.%d@%s>", pid, time.Now().UnixNano(), s.o.Hostname)
}

// digestsVerifiable reports whether some backend checks APOP and CRAM-MD5
// digests itself (it holds plain secrets).
func (s *clientSession) digestsVerifiable() bool {
	for _, op := range s.o.Backends {
		if pop3.VerifiesAPOP(op) {
			return true
		}
	}
	return false
}

// canAPOP reports whether an APOP login routed to backend name can be
// verified: on the greeted connection of the default backend, or by a
// backend that checks digests itself.
func (s *clientSession) canAPOP(name string, op pop3.Opener) bool {
	if s.timestamp == "" {
		return false
	}
	if _, relays := pop3.RelaysAPOP(op); relays {
		return s.greeted != nil && name == s.o.DefaultBackend
	}
	return pop3.VerifiesAPOP(op)
}

// handGreeted gives the greeted connection to a login routed to the
// default backend, which logs in on it (whatever the mechanism) instead of
// dialling again; the backend owns it from then on.
func (s *clientSession) handGreeted(cr *pop3.Credentials, name string) {
	if s.greeted != nil && name == s.o.DefaultBackend {
		cr.Greeted, s.greeted = s.greeted, nil
	}
}

// dropGreeted closes a greeted connection no login used.
func (s *clientSession) dropGreeted() {
	if s.greeted != nil {
		s.greeted.Close()
		s.greeted = nil
	}
}
