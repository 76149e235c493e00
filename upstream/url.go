package upstream

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// FromURL builds Options from a backend URL such as
//
//	pop3://mail.example.org:110?max_sessions=40&proxy_protocol=v2
//	pop3s://mail.example.org?tls_verify=false&timeout=30s
//
// The port defaults to 110 for pop3 and 995 for pop3s. Query parameters:
// proxy_protocol (v2 or none), dial_timeout and timeout (Go durations > 0),
// quickack (boolean, default true), starttls (boolean, pop3 only),
// tls_verify (boolean), server_name (the name to verify), pool (the most
// greeted connections kept ahead of logins, 0 for none; DefaultPoolSize
// unless proxy_protocol=v2, which a pool cannot serve) and pool_max_age (a
// Go duration > 0). An unknown parameter or a bad value is an error naming
// the parameter. max_sessions is accepted and skipped: it limits every kind
// of backend, in front of the backend.
func FromURL(name string, u *url.URL) (Options, error) {
	o := Options{Name: name}
	fail := func(format string, args ...any) (Options, error) {
		return Options{}, fmt.Errorf("upstream %s: "+format, append([]any{name}, args...)...)
	}
	var port string
	switch u.Scheme {
	case "pop3":
		port = "110"
	case "pop3s":
		port, o.TLS = "995", true
	default:
		return fail("scheme %q is not pop3 or pop3s", u.Scheme)
	}
	if u.User != nil {
		return fail("credentials in the URL are not used; clients log in with their own")
	}
	if u.Path != "" && u.Path != "/" || u.Opaque != "" || u.Fragment != "" {
		return fail("URL must be scheme://host[:port] with options as query parameters")
	}
	host := u.Hostname()
	if host == "" {
		return fail("URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fail("bad port %q", p)
		}
		port = p
	}
	o.Addr = net.JoinHostPort(host, port)

	var tlsVerify = true
	var serverName string
	var tlsParams []string
	pool := -1 // not given
	for key, vals := range u.Query() {
		if len(vals) != 1 {
			return fail("parameter %s given %d times", key, len(vals))
		}
		v := vals[0]
		var err error
		switch key {
		case "max_sessions":
			// Every kind of backend has it: the config package reads
			// it, and the login gate in front of the backend enforces it.
		case "proxy_protocol":
			switch v {
			case "v2":
				o.ProxyProtocol = true
			case "none", "":
			default:
				err = fmt.Errorf("want v2 or none")
			}
		case "apop":
			o.APOP, err = strconv.ParseBool(v)
		case "dial_timeout":
			o.DialTimeout, err = positiveDuration(v)
		case "timeout":
			o.CommandTimeout, err = positiveDuration(v)
		case "quickack":
			var on bool
			on, err = strconv.ParseBool(v)
			o.DelayedACK = !on
		case "starttls":
			o.STLS, err = strconv.ParseBool(v)
			if err == nil && o.STLS && o.TLS {
				err = fmt.Errorf("pop3s is already TLS")
			}
		case "pool":
			pool, err = strconv.Atoi(v)
			if err == nil && (pool < 0 || pool > maxPoolSize) {
				err = fmt.Errorf("want 0 (no pool) to %d", maxPoolSize)
			}
		case "pool_max_age":
			o.PoolMaxAge, err = positiveDuration(v)
		case "tls_verify":
			tlsVerify, err = strconv.ParseBool(v)
			tlsParams = append(tlsParams, key)
		case "server_name":
			serverName = v
			tlsParams = append(tlsParams, key)
		default:
			return fail("unknown parameter %s", key)
		}
		if err != nil {
			return fail("parameter %s=%q: %v", key, v, unwrapParse(err))
		}
	}
	switch {
	case pool > 0 && o.ProxyProtocol:
		return fail("parameter pool=%d: a pooled connection is opened before its client is known, so it cannot carry proxy_protocol=v2; use pool=0", pool)
	case pool >= 0:
		o.PoolSize = pool
	case !o.ProxyProtocol:
		o.PoolSize = DefaultPoolSize
	}
	if len(tlsParams) > 0 {
		if !o.TLS && !o.STLS {
			return fail("parameter %s needs pop3s:// or starttls=true", tlsParams[0])
		}
		o.TLSConfig = &tls.Config{ServerName: serverName, InsecureSkipVerify: !tlsVerify}
	}
	return o, nil
}

// maxPoolSize bounds the pool parameter: each pooled connection may hold a
// process on the legacy server.
const maxPoolSize = 64

func positiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil && d <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return d, err
}

// unwrapParse drops strconv's and time's repetition of the input, which the
// caller's message already quotes.
func unwrapParse(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}
