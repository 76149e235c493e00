package config

import (
	"errors"
	"reflect"
	"regexp"
	"time"

	"github.com/popgate/popgate/throttle"
)

// ThrottleVars are the POPGATE_THROTTLE_* variables, one per field of
// throttle.Config; POPGATE_THROTTLE itself (on or off) is Config.Throttling.
// A variable left unset is nil here and takes throttle.DefaultConfig's
// value, which is where the defaults live.
type ThrottleVars struct {
	SoftBytes            *throttle.ByteSize `env:"SOFT_BYTES"`
	SoftMsgs             *int               `env:"SOFT_MSGS"`
	MinPollInterval      *time.Duration     `env:"MIN_POLL_INTERVAL"`
	MaxLevel             *int               `env:"MAX_LEVEL"`
	DelayPerLevel        *time.Duration     `env:"DELAY_PER_LEVEL"`
	MaxDelay             *time.Duration     `env:"MAX_DELAY"`
	Bandwidth            *throttle.ByteSize `env:"BANDWIDTH"`
	EnforceLoginDelay    *bool              `env:"ENFORCE_LOGIN_DELAY"`
	QueueTimeout         *time.Duration     `env:"QUEUE_TIMEOUT"`
	StateSize            *int               `env:"STATE_SIZE"`
	AuthFailBaseDelay    *time.Duration     `env:"AUTH_FAIL_DELAY"`
	AuthFailMaxDelay     *time.Duration     `env:"AUTH_FAIL_MAX_DELAY"`
	AuthFailLimit        *int               `env:"AUTH_FAIL_LIMIT"`
	AuthFailClientLimit  *int               `env:"AUTH_FAIL_CLIENT_LIMIT"`
	AuthFailNetworkLimit *int               `env:"AUTH_FAIL_NETWORK_LIMIT"`
	AuthFailIPv4Prefix   *int               `env:"AUTH_FAIL_IPV4_PREFIX"`
	AuthFailIPv6Prefix   *int               `env:"AUTH_FAIL_IPV6_PREFIX"`
	AuthFailWindow       *time.Duration     `env:"AUTH_FAIL_WINDOW"`
}

// ThrottleSettings returns the throttle configuration: the defaults with
// every variable that is set laid over them.
func (c Config) ThrottleSettings() throttle.Config {
	t := throttle.DefaultConfig()
	t.Mode = c.Throttling
	set := reflect.ValueOf(&t).Elem()
	vars := reflect.ValueOf(c.Throttle)
	for i := range vars.NumField() {
		if v := vars.Field(i); !v.IsNil() {
			set.FieldByName(vars.Type().Field(i).Name).Set(v.Elem())
		}
	}
	return t
}

// throttleVarOf maps each throttle.Config field to its variable (without
// the POPGATE_ prefix).
var throttleVarOf = func() map[string]string {
	m := fieldKeys(reflect.TypeFor[ThrottleVars](), "THROTTLE_")
	m["Mode"] = "THROTTLE"
	return m
}()

// fieldName matches a throttle.Config field name in a message.
var fieldName = regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`)

// validateThrottle adds the throttle settings' problems to l, each under
// its variable's name, as are the settings a message refers to.
func (c *Config) validateThrottle(l *ErrorList) {
	for _, e := range unjoin(c.ThrottleSettings().Validate()) {
		var se *throttle.SettingError
		if !errors.As(e, &se) {
			l.Add("THROTTLE", e)
			continue
		}
		msg := fieldName.ReplaceAllStringFunc(se.Msg, func(f string) string {
			if v, ok := throttleVarOf[f]; ok {
				return Prefix + v
			}
			return f
		})
		l.Add(throttleVarOf[se.Field], errors.New(msg))
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

// printThrottle writes one line per throttle setting, in the order of
// ThrottleVars, with the defaults for the unset ones.
func (c *Config) printThrottle(line func(name string, v any)) {
	line("THROTTLE", c.Throttling)
	t := reflect.ValueOf(c.ThrottleSettings())
	typ := reflect.TypeFor[ThrottleVars]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		line(throttleVarOf[name], t.FieldByName(name).Interface())
	}
}
