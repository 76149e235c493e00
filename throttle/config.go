package throttle

import (
	"errors"
	"fmt"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config holds the throttle thresholds. The env tags name each variable
// without its POPGATE_THROTTLE_ prefix, and their envDefault values are
// DefaultConfig's. The package doc lists every variable.
type Config struct {
	// Mode is POPGATE_THROTTLE ("on" or "off"). It has no THROTTLE_ suffix,
	// so the config package reads it itself; the zero value means on.
	Mode Mode `env:"-"`

	SoftBytes         ByteSize      `env:"SOFT_BYTES" envDefault:"50M"`
	SoftMsgs          int           `env:"SOFT_MSGS" envDefault:"5000"`
	MinPollInterval   time.Duration `env:"MIN_POLL_INTERVAL" envDefault:"5m"`
	MaxLevel          int           `env:"MAX_LEVEL" envDefault:"8"`
	DelayPerLevel     time.Duration `env:"DELAY_PER_LEVEL" envDefault:"5s"`
	MaxDelay          time.Duration `env:"MAX_DELAY" envDefault:"60s"`
	Bandwidth         ByteSize      `env:"BANDWIDTH" envDefault:"256K"`
	EnforceLoginDelay bool          `env:"ENFORCE_LOGIN_DELAY" envDefault:"false"`
	QueueTimeout      time.Duration `env:"QUEUE_TIMEOUT" envDefault:"30s"`
	StateSize         int           `env:"STATE_SIZE" envDefault:"100000"`

	// The AuthFail fields are named apart from the proxy's own fixed
	// failed-login delay (POPGATE_AUTH_FAIL_DELAY), which is not ours.
	AuthFailBaseDelay   time.Duration `env:"AUTH_FAIL_DELAY" envDefault:"1s"`
	AuthFailMaxDelay    time.Duration `env:"AUTH_FAIL_MAX_DELAY" envDefault:"30s"`
	AuthFailLimit       int           `env:"AUTH_FAIL_LIMIT" envDefault:"10"`
	AuthFailClientLimit int           `env:"AUTH_FAIL_CLIENT_LIMIT" envDefault:"50"`
	AuthFailWindow      time.Duration `env:"AUTH_FAIL_WINDOW" envDefault:"15m"`
}

// DefaultConfig returns the defaults, read from the envDefault tags: they
// never penalise a user with a few megabytes who polls every five minutes
// or less often.
func DefaultConfig() Config {
	c, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{}})
	if err != nil {
		panic("throttle: bad envDefault tag: " + err.Error())
	}
	c.Mode = ModeOn
	return c
}

// Enabled reports whether throttling is on.
func (c Config) Enabled() bool { return c.Mode != ModeOff }

// varPrefix is the full prefix of the variables, for Validate's messages.
const varPrefix = "POPGATE_THROTTLE_"

// SettingError is one invalid setting, named by its variable.
type SettingError struct {
	Var string // e.g. POPGATE_THROTTLE_MAX_LEVEL
	Msg string
}

func (e *SettingError) Error() string { return e.Var + ": " + e.Msg }

// Validate reports every setting that cannot work: the result joins one
// *SettingError per problem (errors.Join), so a caller can list them by
// variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, &SettingError{Var: varPrefix + name, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Mode != ModeOn && c.Mode != ModeOff && c.Mode != "" {
		errs = append(errs, &SettingError{Var: "POPGATE_THROTTLE", Msg: fmt.Sprintf("%q is neither on nor off", string(c.Mode))})
	}
	if c.SoftBytes < 0 {
		bad("SOFT_BYTES", "must not be negative")
	}
	if c.SoftMsgs < 0 {
		bad("SOFT_MSGS", "must not be negative")
	}
	if c.SoftBytes == 0 && c.SoftMsgs == 0 {
		bad("SOFT_BYTES", "and %sSOFT_MSGS are both 0, so no maildrop is ever too large", varPrefix)
	}
	if c.MinPollInterval <= 0 {
		bad("MIN_POLL_INTERVAL", "must be positive")
	}
	if c.MaxLevel < 1 {
		bad("MAX_LEVEL", "must be at least 1")
	}
	if c.DelayPerLevel < 0 {
		bad("DELAY_PER_LEVEL", "must not be negative")
	}
	if c.MaxDelay < 0 {
		bad("MAX_DELAY", "must not be negative")
	}
	if c.Bandwidth < 0 {
		bad("BANDWIDTH", "must not be negative")
	}
	if c.QueueTimeout <= 0 {
		bad("QUEUE_TIMEOUT", "must be positive")
	}
	if c.StateSize < 1 {
		bad("STATE_SIZE", "must be at least 1")
	}
	if c.AuthFailBaseDelay < 0 {
		bad("AUTH_FAIL_DELAY", "must not be negative")
	}
	if c.AuthFailMaxDelay < c.AuthFailBaseDelay {
		bad("AUTH_FAIL_MAX_DELAY", "is below %sAUTH_FAIL_DELAY", varPrefix)
	}
	if c.AuthFailLimit < 1 {
		bad("AUTH_FAIL_LIMIT", "must be at least 1")
	}
	if c.AuthFailClientLimit < c.AuthFailLimit {
		bad("AUTH_FAIL_CLIENT_LIMIT", "is below %sAUTH_FAIL_LIMIT", varPrefix)
	}
	if c.AuthFailWindow <= 0 {
		bad("AUTH_FAIL_WINDOW", "must be positive")
	}
	return errors.Join(errs...)
}
