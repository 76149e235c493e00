package app

import (
	"context"
	"io"
	"net/url"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/throttle"
)

// newThrottle builds the login gate from the configuration, with each
// backend's max_sessions as its admission limit. With POPGATE_THROTTLE=off
// it penalises nobody but still enforces the limits.
func newThrottle(cfg config.Config) (*throttle.Throttle, error) {
	return throttle.New(cfg.ThrottleSettings(), throttle.Options{MaxSessions: cfg.SessionLimits()})
}

// throttleShow runs "popgate throttle show USER": the throttle's state lives
// in the serving process, so it asks that process's admin listener.
func throttleShow(ctx context.Context, user string, environ []string, stdout, stderr io.Writer) int {
	body, code := askAdmin(ctx, "/throttle", url.Values{"user": {user}}.Encode(), environ, stderr)
	if code == exitOK {
		stdout.Write(body)
	}
	return code
}
