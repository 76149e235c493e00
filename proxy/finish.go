package proxy

import (
	"fmt"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// recovered turns a panic in the session (v, the value recovered) into a
// SYS/TEMP reply and one Error log with the stack; the server keeps
// running.
func (s *clientSession) recovered(v any) {
	if v == nil {
		return
	}
	s.srv.log.Error("session panic", zap.String("session", s.info.ID), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
	s.reply(pop3.ErrInternal)
	s.flushWithin(time.Second)
	result := session.ResultProtocolError
	if s.mbox != nil {
		// Most likely the Mailbox chain; it is closed without UPDATE.
		result = session.ResultBackendError
	}
	s.setResult(result, s.cause(fmt.Errorf("panic: %v", v)))
}

// closeQuietly releases a Mailbox without UPDATE, surviving a panicking Close.
func closeQuietly(m pop3.Mailbox) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in Close: %v", v)
		}
	}()
	return m.Close()
}

// finish releases everything and writes the session line.
func (s *clientSession) finish() {
	s.dropGreeted()
	if s.unread.Num != 0 {
		// Sent whole, but the session ended without a sign the client
		// read it (a reset, a timeout, a write that failed later).
		b := s.unread
		s.rec.Broken = &b
	}
	for _, m := range s.layers {
		session.Report(m, &s.rec)
	}
	if s.mbox != nil {
		if err := closeQuietly(s.mbox); err != nil {
			if ce := s.check(zap.DebugLevel, "mailbox close"); ce != nil {
				ce.Write(zap.String("session", s.info.ID), zap.Error(err))
			}
		}
		if s.aborted.Load() {
			s.rec.Err = s.cause(fmt.Errorf("closed by server shutdown, deletions not committed"))
		}
	}
	if s.openAs != "" {
		s.srv.open.add(s.openAs, -1) // the maildrop is closed, or committed by QUIT
	}
	s.leaveLimits()
	for _, a := range s.adms {
		a.Release()
	}
	if n := len(s.adms); n > 0 {
		s.adms[n-1].Report(&s.rec)
	}
	s.cancel()
	s.conn.Close()
	s.raw.Close()

	s.resolveAddrs()
	s.rec.Client = addrString(s.info.Client)
	s.rec.Via = addrString(s.info.Via)
	s.rec.Duration = time.Since(s.rec.Start)
	if s.rec.Result == "" {
		s.rec.Result = session.ResultOK
	}
	// A refused password is worth a warning: a stream of them is someone
	// guessing, or a user whose client has a stale password.
	lvl := zap.InfoLevel
	if s.rec.Result == session.ResultAuthFailed {
		lvl = zap.WarnLevel
	}
	if ce := s.check(lvl, "session"); ce != nil {
		ce.Write(s.rec.Fields()...)
	}
	if s.o.OnSessionEnd != nil {
		s.o.OnSessionEnd(&s.rec)
	}
}

func addrString(a interface{ String() string }) string {
	if a == nil {
		return ""
	}
	return a.String()
}
