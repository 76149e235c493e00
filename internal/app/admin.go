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

// askAdmin sends method path?query to the running server's admin listener
// (POPGATE_ADMIN_LISTEN), for the commands whose answer lives in that
// process. It returns the body, or an exit code other than exitOK after
// saying what went wrong on stderr.
func askAdmin(ctx context.Context, method, path, query string, environ []string, stderr io.Writer) ([]byte, int) {
	cfg, _, ok := loadConfig(environ, stderr)
	if !ok {
		return nil, exitUsage
	}
	if cfg.AdminListen == "" || string(cfg.AdminListen) == config.Off {
		fmt.Fprintln(stderr, "popgate: this command asks the server's admin listener, and POPGATE_ADMIN_LISTEN is off")
		return nil, exitUsage
	}
	u := url.URL{Scheme: "http", Host: string(cfg.AdminListen), Path: path, RawQuery: query}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return nil, exitFailure
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: is the server running? %v\n", err)
		return nil, exitFailure
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Fprintf(stderr, "popgate: %s: %s %s\n", u.String(), resp.Status, bytes.TrimSpace(body))
		return nil, exitFailure
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return nil, exitFailure
	}
	return body, exitOK
}
