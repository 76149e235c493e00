package config

import (
	"fmt"
	"time"
)

// validateLimits checks the connection limits: none may be negative (0
// turns one off).
func (c Config) validateLimits(l *ErrorList) {
	if c.LoginTimeout < 0 {
		l.Add("LOGIN_TIMEOUT", fmt.Errorf("%v is negative (0 turns it off)", c.LoginTimeout))
	}
	for _, v := range []struct {
		name string
		v    int
	}{
		{"MAX_PRELOGIN", c.MaxPreLogin},
		{"MAX_PRELOGIN_PER_ADDRESS", c.MaxPreLoginPerAddress},
		{"MAX_USER_ADDRESS_SESSIONS", c.MaxUserAddressSessions},
	} {
		if v.v < 0 {
			l.Add(v.name, fmt.Errorf("%d is negative (0 turns the limit off)", v.v))
		}
	}
}

// ProxyLimit is a limit as proxy.Options takes it, where zero means the
// default and a negative value none.
func ProxyLimit(v int) int {
	if v == 0 {
		return -1
	}
	return v
}

// ProxyLoginTimeout is POPGATE_LOGIN_TIMEOUT as proxy.Options takes it.
func (c Config) ProxyLoginTimeout() time.Duration {
	if c.LoginTimeout == 0 {
		return -1
	}
	return c.LoginTimeout
}
