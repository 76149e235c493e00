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
)

// loadCommandConfig reads the configuration for a command that talks to
// the running server or its store: only the admin address and the store
// are needed, and the server has checked the rest (the users file, say).
func loadCommandConfig(environ []string, stderr io.Writer) (config.Config, bool) {
	environ, err := config.WithEnvFile(environ)
	if err != nil {
		printProblems(stderr, config.ErrorList{err.(*config.VarError)})
		return config.Config{}, false
	}
	cfg, err := config.Load(environ)
	if err != nil {
		printProblems(stderr, err)
		return config.Config{}, false
	}
	return cfg, true
}

// askAdmin sends method path?query to the running server's admin listener
// (POPGATE_ADMIN_LISTEN), for the commands whose answer lives in that
// process. It returns the body, or an exit code other than exitOK after
// saying what went wrong on stderr.
func askAdmin(ctx context.Context, method, path, query string, environ []string, stderr io.Writer) ([]byte, int) {
	cfg, ok := loadCommandConfig(environ, stderr)
	if !ok {
		return nil, exitUsage
	}
	if cfg.AdminListen == "" || string(cfg.AdminListen) == config.Off {
		fmt.Fprintln(stderr, "popgate: this command asks the server's admin listener, and POPGATE_ADMIN_LISTEN is off")
		return nil, exitUsage
	}
	u := url.URL{Scheme: "http", Host: string(cfg.AdminListen), Path: path, RawQuery: query}
	code, body, err := adminCall(ctx, method, u.String(), 10*time.Second)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return nil, exitFailure
	case code != http.StatusOK:
		fmt.Fprintf(stderr, "popgate: %s: %d %s\n", u.String(), code, bytes.TrimSpace(body))
		return nil, exitFailure
	}
	return body, exitOK
}
