package config

import (
	"errors"
	"strings"

	"github.com/popgate/popgate/throttle"
)

// The POPGATE_THROTTLE_* variables are throttle.Config's own fields (its env
// tags name them), embedded in Config with envPrefix "THROTTLE_";
// POPGATE_THROTTLE itself (on or off) is Config.Throttling.

// validateThrottle adds the throttle settings' problems to l, each under its
// variable's name.
func (c *Config) validateThrottle(l *ErrorList) {
	t := c.Throttle
	t.Mode = c.Throttling
	err := t.Validate()
	for _, e := range unjoin(err) {
		var se *throttle.SettingError
		if errors.As(e, &se) {
			l.Add(strings.TrimPrefix(se.Var, Prefix), errors.New(se.Msg))
			continue
		}
		l.Add("THROTTLE", e)
	}
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ThrottleSettings returns the throttle configuration with its mode.
func (c *Config) ThrottleSettings() throttle.Config {
	t := c.Throttle
	t.Mode = c.Throttling
	return t
}

// printThrottle writes one line per throttle setting.
func (c *Config) printThrottle(line func(name string, v any)) {
	t := &c.Throttle
	line("THROTTLE", c.Throttling)
	line("THROTTLE_SOFT_BYTES", t.SoftBytes)
	line("THROTTLE_SOFT_MSGS", t.SoftMsgs)
	line("THROTTLE_MIN_POLL_INTERVAL", t.MinPollInterval)
	line("THROTTLE_MAX_LEVEL", t.MaxLevel)
	line("THROTTLE_DELAY_PER_LEVEL", t.DelayPerLevel)
	line("THROTTLE_MAX_DELAY", t.MaxDelay)
	line("THROTTLE_BANDWIDTH", t.Bandwidth)
	line("THROTTLE_ENFORCE_LOGIN_DELAY", t.EnforceLoginDelay)
	line("THROTTLE_QUEUE_TIMEOUT", t.QueueTimeout)
	line("THROTTLE_STATE_SIZE", t.StateSize)
	line("THROTTLE_AUTH_FAIL_DELAY", t.AuthFailBaseDelay)
	line("THROTTLE_AUTH_FAIL_MAX_DELAY", t.AuthFailMaxDelay)
	line("THROTTLE_AUTH_FAIL_LIMIT", t.AuthFailLimit)
	line("THROTTLE_AUTH_FAIL_CLIENT_LIMIT", t.AuthFailClientLimit)
	line("THROTTLE_AUTH_FAIL_WINDOW", t.AuthFailWindow)
}
