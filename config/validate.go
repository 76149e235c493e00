package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Validate checks the rules that involve more than one value, or a value's
// meaning rather than its syntax, and returns every problem as an ErrorList.
func (c *Config) Validate() error {
	var l ErrorList
	if !c.Listen.Enabled() && !c.ListenTLS.Enabled() {
		l.Add("LISTEN", errors.New("both POPGATE_LISTEN and POPGATE_LISTEN_TLS are off; nothing to serve"))
	}
	c.validateTLS(&l)
	c.validateBackends(&l)
	if c.Store.Shared() {
		if u, err := url.Parse(c.Store.URL()); err != nil || u.Hostname() == "" {
			l.Add("STORE", fmt.Errorf("%v: want %s://[USER:PASSWORD@]HOST:PORT/DB", c.Store, c.Store.Scheme))
		}
	}
	if c.DataDir == "" {
		l.Add("DATA_DIR", errors.New("must not be empty"))
	}
	if d := c.idleTimeout(); d < MinIdleTimeout {
		l.Add("IDLE_TIMEOUT", fmt.Errorf("%v is too short: RFC 1939 section 3 requires an inactivity timer of at least %v", d, MinIdleTimeout))
	}
	c.validateLimits(&l)
	if c.DrainTimeout < 0 {
		l.Add("DRAIN_TIMEOUT", fmt.Errorf("%v must not be negative", c.DrainTimeout))
	}
	if d := c.authFailDelay(); d < 0 {
		l.Add("AUTH_FAIL_DELAY", fmt.Errorf("%v must not be negative", d))
	}
	if strings.ContainsFunc(c.Hostname, func(r rune) bool { return r <= ' ' || r == '<' || r == '>' || r >= 0x7f }) {
		// It goes into the greeting's <...@host> APOP timestamp.
		l.Add("HOSTNAME", fmt.Errorf("%q: use a plain host name", c.Hostname))
	}
	c.validateThrottle(&l)
	c.Ops.validateOps(&l)
	c.validateUIDL(&l)
	c.validatePoison(&l)
	return l.Err()
}

func (c *Config) validateTLS(l *ErrorList) {
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		l.Add("TLS_KEY", errors.New("POPGATE_TLS_CERT is set but the key is not"))
	case c.TLSCert == "" && c.TLSKey != "":
		l.Add("TLS_CERT", errors.New("POPGATE_TLS_KEY is set but the certificate is not"))
	}
	switch {
	case c.TLSAltCert != "" && c.TLSAltKey == "":
		l.Add("TLS_ALT_KEY", errors.New("POPGATE_TLS_ALT_CERT is set but its key is not"))
	case c.TLSAltCert == "" && c.TLSAltKey != "":
		l.Add("TLS_ALT_CERT", errors.New("POPGATE_TLS_ALT_KEY is set but its certificate is not"))
	case c.TLSAltCert != "" && c.TLSCert == "":
		l.Add("TLS_ALT_CERT", errors.New("a second key pair needs the first: set POPGATE_TLS_CERT and POPGATE_TLS_KEY"))
	}
	if c.ListenTLS.Enabled() && c.TLSCert == "" {
		l.Add("LISTEN_TLS", errors.New("an implicit-TLS listener needs POPGATE_TLS_CERT and POPGATE_TLS_KEY"))
	}
	if c.TLSTicketKeyFile != "" && c.TLSCert == "" {
		l.Add("TLS_TICKET_KEY_FILE", errors.New("session tickets need TLS, but no certificate is set (POPGATE_TLS_CERT)"))
	}
	if c.RequireTLS && c.TLSCert == "" {
		l.Add("REQUIRE_TLS", errors.New("TLS is required but no certificate is set (POPGATE_TLS_CERT)"))
	}
}

func (c *Config) validateBackends(l *ErrorList) {
	if len(c.Backends) == 0 {
		l.Add("BACKENDS", errors.New("no backend is defined"))
		return
	}
	for _, b := range c.Backends {
		if _, err := b.maxSessions(); err != nil {
			l.Add("BACKENDS", err)
		}
	}
	if c.DefaultBackend == "" {
		if c.Routes == "" {
			l.Add("DEFAULT_BACKEND", errors.New("must be set when there are several backends and no routes file"))
		}
		return
	}
	for _, b := range c.Backends {
		if b.Name == c.DefaultBackend {
			return
		}
	}
	l.Add("DEFAULT_BACKEND", fmt.Errorf("%q is not one of the backends in POPGATE_BACKENDS", c.DefaultBackend))
}
