package config

// ThrottleConfig holds the POPGATE_THROTTLE_* variables: Config embeds it
// with envPrefix "THROTTLE_", so a field tagged env:"LOGIN_DELAY" here is
// read from POPGATE_THROTTLE_LOGIN_DELAY. Its checks belong in
// validateThrottle, which Validate calls.
//
// Field names must stay unique across Config and its nested structs: parse
// errors are attributed to variables by field name (TestFieldNamesUnique).
type ThrottleConfig struct{}

// validateThrottle adds the throttle settings' problems to l.
func (t *ThrottleConfig) validateThrottle(l *ErrorList) {}

// print writes one line per throttle setting through line(name, value),
// name without the POPGATE_ prefix (THROTTLE_...).
func (t *ThrottleConfig) print(line func(name string, v any)) {}
