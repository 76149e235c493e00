package metrics

import (
	"context"
	"errors"
	"net"

	"github.com/popgate/popgate/health"

	"github.com/popgate/popgate/pop3"
)

// loginOutcome names the outcome of an Open for popgate_logins_total.
func loginOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	switch pop3.CodeOf(err) {
	case pop3.CodeAuth:
		return "auth_failed"
	case pop3.CodeInUse:
		return "in_use"
	case pop3.CodeLoginDelay:
		return "login_delay"
	}
	if errors.Is(err, health.ErrUnavailable) {
		return "unavailable"
	}
	return "error"
}

// errorKind classifies a backend failure, or returns "" for an error that is
// the client's doing (bad password, no such message) rather than the
// backend's.
func errorKind(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, health.ErrUnavailable) {
		return "unavailable"
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timeout"
	}
	var pe *pop3.Error
	if !errors.As(err, &pe) {
		return "other"
	}
	switch pe.Code {
	case pop3.CodeSysTemp:
		return "temporary"
	case pop3.CodeSysPerm:
		return "permanent"
	}
	return ""
}
