package config

import (
	"strings"
	"testing"
	"time"
)

func TestOpsDefaults(t *testing.T) {
	c := mustLoad(t)
	if o := c.Ops.HealthOptions(); o.Interval != 0 || o.Timeout != 0 || c.Ops.Syslog.Enabled() {
		t.Errorf("got %+v, want health's defaults and no syslog", c.Ops)
	}
	c = mustLoad(t, "HEALTH_INTERVAL=2s")
	if o := c.Ops.HealthOptions(); o.Interval != 2*time.Second || o.Timeout != 0 {
		t.Errorf("HEALTH_INTERVAL=2s gave %+v", o)
	}
}

func TestSyslogTarget(t *testing.T) {
	for in, want := range map[string]SyslogTarget{
		"udp://127.0.0.1:514":  {Network: "udp", Address: "127.0.0.1:514"},
		"udp://[::1]:5514":     {Network: "udp", Address: "[::1]:5514"},
		"unix:///dev/log":      {Network: "unixgram", Address: "/dev/log"},
		"unix:///run/sys.sock": {Network: "unixgram", Address: "/run/sys.sock"},
	} {
		c := mustLoad(t, "SYSLOG="+in)
		if c.Ops.Syslog != want || c.Ops.Syslog.String() != in {
			t.Errorf("%s: got %+v (%s)", in, c.Ops.Syslog, c.Ops.Syslog)
		}
	}
	for _, bad := range []string{"tcp://127.0.0.1:514", "udp://127.0.0.1", "unix://dev/log", "/dev/log", "udp://h:1/x"} {
		_, err := load(t, "SYSLOG="+bad)
		if err == nil || !strings.Contains(err.Error(), "POPGATE_SYSLOG") {
			t.Errorf("%s: got %v, want an error naming POPGATE_SYSLOG", bad, err)
		}
	}
}

func TestHealthDurationsMustBePositive(t *testing.T) {
	_, err := load(t, "HEALTH_INTERVAL=0s", "HEALTH_TIMEOUT=-1s")
	for _, v := range []string{"POPGATE_HEALTH_INTERVAL", "POPGATE_HEALTH_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("got %v, want a problem with %s", err, v)
		}
	}
}
