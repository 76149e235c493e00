package config

import (
	"net/url"
	"strings"
)

// redacted replaces a secret in printed configuration.
const redacted = "xxxxx"

// RedactURL prints u with the password of its userinfo and any secret-looking
// query parameter replaced by xxxxx. Native paths print as written (%u stays
// %u).
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		if _, has := c.User.Password(); has {
			c.User = url.UserPassword(c.User.Username(), redacted)
		}
	}
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			if isSecretParam(k) {
				q[k] = []string{redacted}
			}
		}
		c.RawQuery = q.Encode()
	}
	if c.Scheme == SchemeMbox || c.Scheme == SchemeMaildir {
		s := c.Scheme + "://" + c.Path
		if c.RawQuery != "" {
			s += "?" + c.RawQuery
		}
		return s
	}
	return c.String()
}

func isSecretParam(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"pass", "secret", "token", "key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
