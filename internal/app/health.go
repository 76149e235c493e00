package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/popgate/popgate/config"
)

// healthCheck asks the admin endpoint of a popgate running with the same
// configuration whether it is alive (/healthz) or, with "ready", ready
// (/readyz). It is the container health check: a minimal image has no
// HTTP client of its own. Exit status 0 if the answer is 200, 1 if not.
func healthCheck(args, environ []string, stdout, stderr io.Writer) int {
	path := "/healthz"
	switch {
	case len(args) == 1 && args[0] == "ready":
		path = "/readyz"
	case len(args) != 0:
		return usageError(stderr, "usage: popgate health [ready]")
	}
	cfg, err := config.Parse(environ)
	if err != nil {
		printProblems(stderr, err)
		return exitUsage
	}
	if !cfg.AdminListen.Enabled() {
		fmt.Fprintln(stderr, "popgate: POPGATE_ADMIN_LISTEN is off; there is nothing to ask")
		return exitUsage
	}
	url := "http://" + dialable(string(cfg.AdminListen)) + path
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	_, _ = io.Copy(stdout, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return exitFailure
	}
	return exitOK
}

// dialable turns a listen address into one to connect to: a wildcard host
// means this machine.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
