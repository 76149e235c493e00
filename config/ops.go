package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/popgate/popgate/health"
)

// OpsConfig holds the operations settings: backend health checks and the
// syslog copy of the log. Config embeds it without a prefix, so a field
// tagged env:"HEALTH_INTERVAL" is read from POPGATE_HEALTH_INTERVAL.
type OpsConfig struct {
	// HealthInterval is the time between two health checks of a legacy
	// (pop3/pop3s) backend; nil when unset, for health's default.
	HealthInterval *time.Duration `env:"HEALTH_INTERVAL"`
	// HealthTimeout bounds one check: connect, TLS and greeting; nil when
	// unset, for health's default.
	HealthTimeout *time.Duration `env:"HEALTH_TIMEOUT"`
	// HealthFailures is how many checks in a row must fail before a
	// backend's logins are refused; nil for health's default.
	HealthFailures *int `env:"HEALTH_FAILURES"`
	// HealthStrict makes /readyz fail while any backend is down.
	HealthStrict bool `env:"HEALTH_STRICT"`
	// Syslog, when set, also sends every log line to a syslog server.
	Syslog SyslogTarget `env:"SYSLOG"`
}

// SyslogTarget is where syslog messages go: Network is "udp", "unixgram" or
// "" (no syslog).
type SyslogTarget struct {
	Network, Address string
}

// UnmarshalText accepts udp://HOST:PORT or unix:///PATH (a datagram
// socket such as /dev/log).
func (s *SyslogTarget) UnmarshalText(b []byte) error {
	u, err := url.Parse(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a URL such as udp://127.0.0.1:514 or unix:///dev/log", b)
	}
	switch u.Scheme {
	case "udp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil || u.Path != "" {
			return fmt.Errorf("%q: want udp://HOST:PORT", b)
		}
		*s = SyslogTarget{Network: "udp", Address: u.Host}
	case "unix":
		if u.Host != "" || u.Path == "" {
			return fmt.Errorf("%q: want unix:///PATH, with three slashes", b)
		}
		*s = SyslogTarget{Network: "unixgram", Address: u.Path}
	default:
		return fmt.Errorf("%q: the scheme must be udp or unix", b)
	}
	return nil
}

// Enabled reports whether a syslog target is set.
func (s SyslogTarget) Enabled() bool { return s.Network != "" }

// String returns the target as it is written, or "" when unset.
func (s SyslogTarget) String() string {
	switch s.Network {
	case "udp":
		return "udp://" + s.Address
	case "unixgram":
		return "unix://" + s.Address
	}
	return ""
}

// HealthOptions returns the health checker's timing; unset variables stay
// zero, which health reads as its defaults.
func (o *OpsConfig) HealthOptions() health.Options {
	return health.Options{Interval: valueOr(o.HealthInterval, 0), Timeout: valueOr(o.HealthTimeout, 0),
		Failures: valueOr(o.HealthFailures, 0), Strict: o.HealthStrict}
}

// validateOps adds the operations settings' problems to l.
func (o *OpsConfig) validateOps(l *ErrorList) {
	if o.HealthInterval != nil && *o.HealthInterval <= 0 {
		l.Add("HEALTH_INTERVAL", errors.New("must be positive"))
	}
	if o.HealthTimeout != nil && *o.HealthTimeout <= 0 {
		l.Add("HEALTH_TIMEOUT", errors.New("must be positive"))
	}
	if o.HealthFailures != nil && *o.HealthFailures < 1 {
		l.Add("HEALTH_FAILURES", errors.New("must be at least 1"))
	}
}

// print writes one line per operations setting through line(name, value).
func (o *OpsConfig) print(line func(name string, v any)) {
	line("HEALTH_INTERVAL", valueOr(o.HealthInterval, health.DefaultInterval))
	line("HEALTH_TIMEOUT", valueOr(o.HealthTimeout, health.DefaultTimeout))
	line("HEALTH_FAILURES", valueOr(o.HealthFailures, health.DefaultFailures))
	line("HEALTH_STRICT", o.HealthStrict)
	line("SYSLOG", o.Syslog)
}
