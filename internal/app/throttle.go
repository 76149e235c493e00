package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

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
	// Only the admin address is needed: the server checked the rest.
	cfg, err := config.Load(environ)
	if err != nil {
		printProblems(stderr, err)
		return exitUsage
	}
	if cfg.AdminListen == "" || string(cfg.AdminListen) == config.Off {
		fmt.Fprintln(stderr, "popgate: throttle show asks the server's admin listener, and POPGATE_ADMIN_LISTEN is off")
		return exitUsage
	}
	u := url.URL{Scheme: "http", Host: string(cfg.AdminListen), Path: "/throttle", RawQuery: url.Values{"user": {user}}.Encode()}
	code, body, err := adminCall(ctx, http.MethodGet, u.String(), 10*time.Second)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	case code != http.StatusOK:
		fmt.Fprintf(stderr, "popgate: %s: %d %s\n", u.String(), code, bytes.TrimSpace(body))
		return exitFailure
	}
	if _, err := stdout.Write(body); err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	return exitOK
}
