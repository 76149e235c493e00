package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"strings"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/backend/auth"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/internal/tlsticket"
	"github.com/popgate/popgate/routes"
	"github.com/popgate/popgate/upstream"
)

// loadConfig loads and fully checks the configuration: the variables, each
// backend's URL parameters, the routes file and the TLS key pair. It prints
// every problem to stderr and returns ok=false if there was any.
func loadConfig(environ []string, stderr io.Writer) (cfg config.Config, parsed, ok bool) {
	environ, err := config.WithEnvFile(environ)
	if err != nil {
		printProblems(stderr, config.ErrorList{err.(*config.VarError)})
		return cfg, false, false
	}
	cfg, err = config.Parse(environ)
	if err != nil {
		printProblems(stderr, err)
		return cfg, false, false
	}
	var l config.ErrorList
	if err := cfg.Validate(); err != nil {
		errors.As(err, &l)
	}
	problems, warnings := preflight(cfg)
	l = append(l, problems...)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "popgate: warning: %s\n", w)
	}
	if len(l) > 0 {
		printProblems(stderr, l)
		return cfg, true, false
	}
	return cfg, true, true
}

// preflight runs the checks that need more than the environment. serve and
// check-config both run it, so that check-config passes exactly what serve
// starts with. Warnings are problems that do not stop the server.
func preflight(cfg config.Config) (l config.ErrorList, warnings []string) {
	l = checkBackends(cfg)
	ul, uw := checkUsersFile(cfg)
	l, warnings = append(l, ul...), append(warnings, uw...)
	warnings = append(warnings, checkProxyHeaders(cfg)...)
	if cfg.Routes != "" {
		if _, err := routes.Load(cfg.Routes, cfg.BackendNames()); err != nil {
			l.Add("ROUTES", err)
		}
	}
	for _, pair := range [...]struct{ name, cert, key string }{
		{"TLS_CERT", cfg.TLSCert, cfg.TLSKey},
		{"TLS_ALT_CERT", cfg.TLSAltCert, cfg.TLSAltKey},
	} {
		if pair.cert == "" || pair.key == "" {
			continue
		}
		if _, err := tls.LoadX509KeyPair(pair.cert, pair.key); err != nil {
			l.Add(pair.name, fmt.Errorf("loading the key pair: %w", err))
		}
	}
	if cfg.TLSTicketKeyFile != "" {
		if _, err := tlsticket.ReadSecret(cfg.TLSTicketKeyFile); err != nil {
			l.Add("TLS_TICKET_KEY_FILE", err)
		}
	}
	return l, warnings
}

// checkProxyHeaders warns about legacy servers that are not on loopback
// and get no PROXY header: such a server sees every client as popgate, so
// its own per-address penalties (Dovecot's auth_penalty, say) fall on
// everyone at once. On loopback the server is assumed to be a private
// instance behind popgate, which popgate's own limits protect.
func checkProxyHeaders(cfg config.Config) (warnings []string) {
	for _, b := range cfg.Backends {
		if b.Native() {
			continue
		}
		o, err := upstream.FromURL(b.Name, b.URL)
		if err != nil || o.ProxyProtocol || isLoopbackHost(b.URL.Hostname()) {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("%sBACKENDS: backend %s (%s) is not on loopback and gets no PROXY header: it sees every client as popgate's address, so its own per-address limits hit all clients at once; add proxy_protocol=v2 if it supports PROXY v2 (Dovecot: haproxy = yes, haproxy_trusted_networks)",
			config.Prefix, b.Name, b.URL.Host))
	}
	return warnings
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// checkUsersFile loads the users file as the native backends will. It must
// load when a native backend has no auth_backend to check the users it does
// not list; with one, it may be missing. Its unusable lines are warnings:
// they disable their users only.
func checkUsersFile(cfg config.Config) (l config.ErrorList, warnings []string) {
	need, use := false, false
	for _, b := range cfg.Backends {
		if !b.Native() {
			continue
		}
		o, err := backend.FromURL(b.Name, b.URL, nativeDataDir(cfg, b.Name))
		if err != nil {
			continue // reported by checkBackends
		}
		use = true
		need = need || o.AuthBackend == ""
	}
	if !use || cfg.UsesEmbeddedDefault() { // the demo seeds its own file
		return nil, nil
	}
	f, err := auth.LoadUsersFile(cfg.UsersFile)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !need:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		l.Add("USERS_FILE", fmt.Errorf("%s does not exist; create it, or give each native backend an auth_backend (a pop3:// backend) to check the passwords of users it does not list", cfg.UsersFile))
		return l, nil
	case err != nil:
		l.Add("USERS_FILE", err)
		return l, nil
	}
	for _, w := range f.Warnings() {
		warnings = append(warnings, fmt.Sprintf("%s%s %s: %s", config.Prefix, "USERS_FILE", cfg.UsersFile, w))
	}
	return l, warnings
}

func printProblems(w io.Writer, err error) {
	var l config.ErrorList
	if errors.As(err, &l) {
		fmt.Fprintf(w, "popgate: %d configuration problem(s):\n", len(l))
		for _, e := range l {
			// Continuation lines (a routes file's several bad lines) are
			// indented under their variable.
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(e.Error(), "\n", "\n    "))
		}
		return
	}
	fmt.Fprintf(w, "popgate: configuration: %v\n", err)
}

// checkConfig prints the effective configuration and checks it.
func checkConfig(environ []string, stdout, stderr io.Writer) int {
	cfg, parsed, ok := loadConfig(environ, stderr)
	if parsed {
		fmt.Fprint(stdout, cfg) // String redacts secrets
	}
	if !ok {
		return exitUsage
	}
	fmt.Fprintln(stdout, "# configuration OK")
	return exitOK
}

// routesCheck validates a routes file against the configured backends (or
// only its syntax, if the configuration itself does not load).
func routesCheck(file string, environ []string, stdout, stderr io.Writer) int {
	var known []string
	if cfg, err := config.Load(environ); err == nil {
		known = cfg.BackendNames()
	} else {
		fmt.Fprintf(stderr, "popgate: the configuration does not load, so backend names are not checked:\n%v\n", err)
	}
	t, err := routes.Load(file, known)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: %d rules OK\n", file, t.Len())
	return exitOK
}
