package config

import "fmt"

// LogFormat is how log lines are encoded.
type LogFormat string

// Log formats.
const (
	LogJSON    LogFormat = "json"    // one JSON object per line, for log collectors
	LogConsole LogFormat = "console" // tab-separated, for people
)

// UnmarshalText accepts json or console.
func (f *LogFormat) UnmarshalText(b []byte) error {
	switch v := LogFormat(b); v {
	case LogJSON, LogConsole:
		*f = v
		return nil
	}
	return fmt.Errorf("%q: want json or console", b)
}
