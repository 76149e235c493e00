package config

import (
	"fmt"
	"strings"
)

// String prints the effective configuration, one VAR=value line each in a
// stable order, with secrets redacted. It is what check-config shows.
func (c Config) String() string {
	var b strings.Builder
	line := func(name string, v any) { fmt.Fprintf(&b, "%s%s=%v\n", Prefix, name, v) }
	line("LISTEN", c.Listen)
	line("LISTEN_TLS", c.ListenTLS)
	line("TLS_CERT", c.TLSCert)
	line("TLS_KEY", c.TLSKey)
	line("TLS_ALT_CERT", c.TLSAltCert)
	line("TLS_ALT_KEY", c.TLSAltKey)
	line("REQUIRE_TLS", c.RequireTLS)
	line("TLS_TICKET_KEY_FILE", c.TLSTicketKeyFile)
	line("PROXY_PROTOCOL_FROM", c.ProxyProtocolFrom)
	line("BACKENDS", c.Backends)
	line("DEFAULT_BACKEND", c.DefaultBackend)
	line("ROUTES", c.Routes)
	line("DATA_DIR", c.DataDir)
	line("STORE", c.Store)
	line("STORE_PREFIX", c.StorePrefix)
	line("USERS_FILE", c.UsersFile)
	line("LOG_FORMAT", c.LogFormat)
	line("LOG_LEVEL", c.LogLevel)
	line("ADMIN_LISTEN", c.AdminListen)
	line("IDLE_TIMEOUT", c.idleTimeout())
	line("DRAIN_TIMEOUT", c.DrainTimeout)
	line("AUTH_FAIL_DELAY", c.authFailDelay())
	line("ENV_FILE", c.EnvFile)
	line("LOGIN_TIMEOUT", c.LoginTimeout)
	line("MAX_PRELOGIN", c.MaxPreLogin)
	line("MAX_PRELOGIN_PER_ADDRESS", c.MaxPreLoginPerAddress)
	line("MAX_USER_ADDRESS_SESSIONS", c.MaxUserAddressSessions)
	line("HOSTNAME", c.Hostname)
	c.printThrottle(line)
	c.Ops.print(line)
	c.printUIDL(line)
	c.printPoison(line)
	return b.String()
}

// join renders each item with str and joins the results with sep.
func join[T any](items []T, sep string, str func(T) string) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = str(it)
	}
	return strings.Join(s, sep)
}
