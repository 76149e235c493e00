package throttle

import (
	"errors"
	"fmt"
	"time"

	"github.com/popgate/popgate/pop3"
)

// Causes carried in the Err of the *pop3.Error values Admit returns.
var (
	ErrTooManyFailures = errors.New("throttle: too many failed logins")
	ErrLoginTooSoon    = errors.New("throttle: login sooner than LOGIN-DELAY allows")
	ErrQueueTimeout    = errors.New("throttle: timed out waiting for a backend session")
)

// The client sees only Text; who, where and why go to the log through Err.

func errTooManyFailures(user, client, why string) *pop3.Error {
	return &pop3.Error{Code: pop3.CodeSysTemp, Text: "too many failed logins, try again later",
		Err: fmt.Errorf("user %s from %s: %s: %w", user, client, why, ErrTooManyFailures)}
}

func errLoginTooSoon(user string, level int, interval time.Duration) *pop3.Error {
	return &pop3.Error{Code: pop3.CodeLoginDelay, Text: "polling too often, wait before logging in again",
		Err: fmt.Errorf("user %s: level %d, %s after the last login: %w", user, level, interval.Round(time.Second), ErrLoginTooSoon)}
}

func errQueueTimeout(backend, user string, waited time.Duration, active int) *pop3.Error {
	return &pop3.Error{Code: pop3.CodeSysTemp, Text: "server busy, try again later",
		Err: fmt.Errorf("backend %s: user %s waited %s with %d sessions open: %w", backend, user, waited, active, ErrQueueTimeout)}
}
