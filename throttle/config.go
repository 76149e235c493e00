package throttle

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the throttle thresholds. Start from DefaultConfig, which is
// where the defaults live; package config fills a Config in from the
// environment.
type Config struct {
	// Mode is "on" or "off"; the zero value means on. Off penalises
	// nobody, but the backends' session limits still hold.
	Mode Mode

	// SoftBytes and SoftMsgs are the maildrop size above which a user may
	// be penalised; 0 ignores that measure (not both).
	SoftBytes ByteSize
	SoftMsgs  int
	// MinPollInterval: polling at least this far apart is never penalised.
	MinPollInterval time.Duration
	// MaxLevel is the highest penalty level.
	MaxLevel int
	// DelayPerLevel is the login delay per level, MaxDelay its cap.
	DelayPerLevel time.Duration
	MaxDelay      time.Duration
	// Bandwidth is the RETR/TOP rate at level 1 in bytes per second,
	// divided by the level; 0 shapes nothing.
	Bandwidth ByteSize
	// EnforceLoginDelay refuses penalised logins with [LOGIN-DELAY]
	// instead of delaying them.
	EnforceLoginDelay bool
	// QueueTimeout is the longest wait for a backend session slot before
	// [SYS/TEMP].
	QueueTimeout time.Duration
	// StateSize is how many users (and client addresses) are remembered.
	StateSize int

	// The AuthFail fields are named apart from the proxy's own fixed
	// failed-login delay, which is not ours. AuthFailBaseDelay is the
	// delay after a client's first failed login, doubled per further
	// failure up to AuthFailMaxDelay; after AuthFailLimit failures against
	// one user (AuthFailClientLimit against all) from one client address,
	// or AuthFailNetworkLimit from one client network (the first
	// AuthFailIPv4Prefix or AuthFailIPv6Prefix bits of the address), its
	// logins are refused, until AuthFailWindow has passed since the last
	// failure. Logins still being verified count as failures until their
	// verdict.
	AuthFailBaseDelay    time.Duration
	AuthFailMaxDelay     time.Duration
	AuthFailLimit        int
	AuthFailClientLimit  int
	AuthFailNetworkLimit int
	AuthFailIPv4Prefix   int
	AuthFailIPv6Prefix   int
	AuthFailWindow       time.Duration
}

// DefaultConfig returns the defaults: they never penalise a user with a
// few megabytes who polls every five minutes or less often.
func DefaultConfig() Config {
	return Config{
		Mode:                 ModeOn,
		SoftBytes:            50 << 20,
		SoftMsgs:             5000,
		MinPollInterval:      5 * time.Minute,
		MaxLevel:             8,
		DelayPerLevel:        5 * time.Second,
		MaxDelay:             60 * time.Second,
		Bandwidth:            256 << 10,
		QueueTimeout:         30 * time.Second,
		StateSize:            100000,
		AuthFailBaseDelay:    time.Second,
		AuthFailMaxDelay:     30 * time.Second,
		AuthFailLimit:        10,
		AuthFailClientLimit:  50,
		AuthFailNetworkLimit: 200,
		AuthFailIPv4Prefix:   24,
		AuthFailIPv6Prefix:   48,
		AuthFailWindow:       15 * time.Minute,
	}
}

// Enabled reports whether throttling is on.
func (c Config) Enabled() bool { return c.Mode != ModeOff }

// SettingError is one invalid setting, named by its Config field.
type SettingError struct {
	Field string // e.g. MaxLevel
	Msg   string
}

func (e *SettingError) Error() string { return e.Field + ": " + e.Msg }

// Validate reports every setting that cannot work: the result joins one
// *SettingError per problem (errors.Join), so a caller can list them by
// field.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, &SettingError{Field: name, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Mode != ModeOn && c.Mode != ModeOff && c.Mode != "" {
		bad("Mode", "%q is neither on nor off", string(c.Mode))
	}
	if c.SoftBytes < 0 {
		bad("SoftBytes", "must not be negative")
	}
	if c.SoftMsgs < 0 {
		bad("SoftMsgs", "must not be negative")
	}
	if c.SoftBytes == 0 && c.SoftMsgs == 0 {
		bad("SoftBytes", "and SoftMsgs are both 0, so no maildrop is ever too large")
	}
	if c.MinPollInterval <= 0 {
		bad("MinPollInterval", "must be positive")
	}
	if c.MaxLevel < 1 {
		bad("MaxLevel", "must be at least 1")
	}
	if c.DelayPerLevel < 0 {
		bad("DelayPerLevel", "must not be negative")
	}
	if c.MaxDelay < 0 {
		bad("MaxDelay", "must not be negative")
	}
	if c.Bandwidth < 0 {
		bad("Bandwidth", "must not be negative")
	}
	if c.QueueTimeout <= 0 {
		bad("QueueTimeout", "must be positive")
	}
	if c.StateSize < 1 {
		bad("StateSize", "must be at least 1")
	}
	if c.AuthFailBaseDelay < 0 {
		bad("AuthFailBaseDelay", "must not be negative")
	}
	if c.AuthFailMaxDelay < c.AuthFailBaseDelay {
		bad("AuthFailMaxDelay", "is below AuthFailBaseDelay")
	}
	if c.AuthFailLimit < 1 {
		bad("AuthFailLimit", "must be at least 1")
	}
	if c.AuthFailClientLimit < c.AuthFailLimit {
		bad("AuthFailClientLimit", "is below AuthFailLimit")
	}
	if c.AuthFailNetworkLimit < c.AuthFailClientLimit {
		bad("AuthFailNetworkLimit", "is below AuthFailClientLimit")
	}
	if c.AuthFailIPv4Prefix < 0 || c.AuthFailIPv4Prefix > 32 {
		bad("AuthFailIPv4Prefix", "must be between 0 and 32")
	}
	if c.AuthFailIPv6Prefix < 0 || c.AuthFailIPv6Prefix > 128 {
		bad("AuthFailIPv6Prefix", "must be between 0 and 128")
	}
	if c.AuthFailWindow <= 0 {
		bad("AuthFailWindow", "must be positive")
	}
	return errors.Join(errs...)
}
