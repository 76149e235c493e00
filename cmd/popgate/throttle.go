package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/throttle"
)

// maxSessioner is implemented by backends with a session limit
// (max_sessions in their URL).
type maxSessioner interface{ MaxSessions() int }

// newThrottle builds the throttle from the configuration, with each
// backend's max_sessions as its admission limit. It returns nil when
// POPGATE_THROTTLE=off.
func newThrottle(cfg config.Config, openers map[string]pop3.Opener) (*throttle.Throttle, error) {
	tc := cfg.ThrottleSettings()
	if !tc.Enabled() {
		return nil, nil
	}
	limits := map[string]int{}
	for name, op := range openers {
		if m, ok := op.(maxSessioner); ok && m.MaxSessions() > 0 {
			limits[name] = m.MaxSessions()
		}
	}
	return throttle.New(tc, throttle.Options{MaxSessions: limits})
}

// throttleShow runs "popgate throttle show USER": the throttle's state lives
// in the serving process, so it asks that process's admin listener.
func throttleShow(ctx context.Context, user string, environ []string, stdout, stderr io.Writer) int {
	cfg, _, ok := loadConfig(environ, stderr)
	if !ok {
		return exitUsage
	}
	if cfg.AdminListen == "" || string(cfg.AdminListen) == config.Off {
		fmt.Fprintln(stderr, "popgate: throttle show asks the server's admin listener, and POPGATE_ADMIN_LISTEN is off")
		return exitUsage
	}
	u := url.URL{Scheme: "http", Host: string(cfg.AdminListen), Path: "/throttle", RawQuery: url.Values{"user": {user}}.Encode()}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: is the server running? %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Fprintf(stderr, "popgate: %s: %s %s\n", u.String(), resp.Status, bytes.TrimSpace(body))
		return exitFailure
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	return exitOK
}
