package throttle

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
)

// parse reads a Config the way the config package does: embedded with
// envPrefix "THROTTLE_" under "POPGATE_".
func parse(t *testing.T, vars map[string]string) (Config, error) {
	t.Helper()
	type root struct {
		Throttle Config `envPrefix:"THROTTLE_"`
	}
	r, err := env.ParseAsWithOptions[root](env.Options{Prefix: "POPGATE_", Environment: vars})
	return r.Throttle, err
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Mode != ModeOn || c.SoftBytes != 50<<20 || c.SoftMsgs != 5000 || c.MinPollInterval != 5*time.Minute ||
		c.Bandwidth != 256<<10 || c.AuthFailWindow != 15*time.Minute || c.StateSize != 100000 {
		t.Errorf("DefaultConfig() = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
	// Through the config package's prefix, the tags give the same values.
	got, err := parse(t, map[string]string{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	c.Mode = "" // read by the config package, not through the tags
	if got != c {
		t.Errorf("parsed defaults\n%+v\nDefaultConfig is\n%+v", got, c)
	}
	if !got.Enabled() {
		t.Error("a Config without a Mode is disabled; the zero Mode must mean on")
	}
}

func TestEnvVariables(t *testing.T) {
	got, err := parse(t, map[string]string{
		"POPGATE_THROTTLE_SOFT_BYTES":          "1G",
		"POPGATE_THROTTLE_MIN_POLL_INTERVAL":   "90s",
		"POPGATE_THROTTLE_BANDWIDTH":           "65536",
		"POPGATE_THROTTLE_ENFORCE_LOGIN_DELAY": "true",
		"POPGATE_THROTTLE_AUTH_FAIL_DELAY":     "2s",
	})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got.SoftBytes != 1<<30 || got.MinPollInterval != 90*time.Second || got.Bandwidth != 65536 ||
		!got.EnforceLoginDelay || got.AuthFailBaseDelay != 2*time.Second {
		t.Errorf("parsed %+v", got)
	}
	// env names the field; the config package maps it to the variable.
	if _, err := parse(t, map[string]string{"POPGATE_THROTTLE_SOFT_BYTES": "lots"}); err == nil ||
		!strings.Contains(err.Error(), "SoftBytes") || !strings.Contains(err.Error(), `"lots" is not a size`) {
		t.Errorf("a bad size: %v, want an error naming the field and the value", err)
	}
}

func TestValidateNamesVariables(t *testing.T) {
	c := DefaultConfig()
	c.MinPollInterval = 0
	c.AuthFailMaxDelay = time.Millisecond
	c.Mode = "maybe"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a zero MIN_POLL_INTERVAL")
	}
	var vars []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var se *SettingError
		if !errors.As(e, &se) {
			t.Fatalf("Validate returned %T (%v), want *SettingError", e, e)
		}
		vars = append(vars, se.Var)
	}
	want := []string{"POPGATE_THROTTLE", "POPGATE_THROTTLE_MIN_POLL_INTERVAL", "POPGATE_THROTTLE_AUTH_FAIL_MAX_DELAY"}
	if !slices.Equal(vars, want) {
		t.Errorf("Validate() names %q, want %q", vars, want)
	}
	if !strings.Contains(err.Error(), "POPGATE_THROTTLE_MIN_POLL_INTERVAL: must be positive") {
		t.Errorf("Validate() = %q", err)
	}
	if _, err := New(c, Options{}); err == nil {
		t.Error("New accepted an invalid Config")
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "512": 512, "4k": 4096, "4KiB": 4096, "50M": 50 << 20, "2 GB": 2 << 30} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("ByteSize(%q) = %d, %v; want %d", in, b, err, want)
			continue
		}
		var back ByteSize
		if err := back.UnmarshalText([]byte(b.String())); err != nil || back != b {
			t.Errorf("ByteSize(%q).String() = %q does not read back", in, b.String())
		}
	}
	for _, in := range []string{"", "M", "1.5G", "12X", "99999999999G"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("ByteSize(%q) = %d, want an error", in, b)
		}
	}
}

func TestMode(t *testing.T) {
	for in, want := range map[string]Mode{"off": ModeOff, "OFF": ModeOff, "false": ModeOff, "on": ModeOn, "1": ModeOn, "": ModeOn} {
		var m Mode
		if err := m.UnmarshalText([]byte(in)); err != nil || m != want {
			t.Errorf("Mode(%q) = %q, %v; want %q", in, m, err, want)
		}
	}
	var m Mode
	if err := m.UnmarshalText([]byte("sometimes")); err == nil {
		t.Error("Mode(sometimes) parsed")
	}
}
