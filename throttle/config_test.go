package throttle

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Mode != ModeOn || c.SoftBytes != 50<<20 || c.SoftMsgs != 5000 || c.MinPollInterval != 5*time.Minute ||
		c.Bandwidth != 256<<10 || c.AuthFailWindow != 15*time.Minute || c.StateSize != 100000 {
		t.Errorf("DefaultConfig() = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
	c.Mode = ""
	if !c.Enabled() {
		t.Error("a Config without a Mode is disabled; the zero Mode must mean on")
	}
}

func TestValidateNamesFields(t *testing.T) {
	c := DefaultConfig()
	c.MinPollInterval = 0
	c.AuthFailMaxDelay = time.Millisecond
	c.Mode = "maybe"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a zero MinPollInterval")
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var se *SettingError
		if !errors.As(e, &se) {
			t.Fatalf("Validate returned %T (%v), want *SettingError", e, e)
		}
		fields = append(fields, se.Field)
	}
	want := []string{"Mode", "MinPollInterval", "AuthFailMaxDelay"}
	if !slices.Equal(fields, want) {
		t.Errorf("Validate() names %q, want %q", fields, want)
	}
	if !strings.Contains(err.Error(), "MinPollInterval: must be positive") {
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
