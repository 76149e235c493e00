package throttle

import (
	"testing"
	"time"
)

func TestLevelDefaultsSpareTypicalUsers(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		msgs     int
		bytes    int64
		interval time.Duration
	}{
		{200, 5 << 20, 10 * time.Minute}, // a few MB every 10 minutes
		{200, 5 << 20, time.Minute},      // small maildrop polled every minute
		{200, 40 << 20, time.Minute},     // below the soft size
		{80000, 2 << 30, 10 * time.Minute},
		{80000, 2 << 30, 0}, // first login ever
	} {
		if l := c.level(tc.msgs, tc.bytes, tc.interval); l != 0 {
			t.Errorf("level(%d msgs, %d bytes, every %s) = %d, want 0", tc.msgs, tc.bytes, tc.interval, l)
		}
	}
}

func TestLevelRisesWithSizeAndFrequency(t *testing.T) {
	c := DefaultConfig()
	c.MaxLevel = 100
	// Both factors over 1: 100 MB (2x) every 2.5 minutes (2x) is 4x, level 2.
	if got := c.level(1, 100<<20, 150*time.Second); got != 2 {
		t.Fatalf("level(100MB, 2.5m) = %d, want 2", got)
	}
	prev := 0
	for _, mb := range []int64{60, 100, 200, 400, 800, 1600} {
		l := c.level(1, mb<<20, time.Minute)
		if l < prev || l == 0 {
			t.Errorf("level(%dMB, 1m) = %d after %d: not rising", mb, l, prev)
		}
		prev = l
	}
	prev = 0
	for _, iv := range []time.Duration{4 * time.Minute, 2 * time.Minute, time.Minute, 10 * time.Second, time.Second} {
		l := c.level(1, 500<<20, iv)
		if l < prev || l == 0 {
			t.Errorf("level(500MB, %s) = %d after %d: not rising", iv, l, prev)
		}
		prev = l
	}
	// The message count counts like the byte size.
	if a, b := c.level(20000, 1, time.Minute), c.level(1, 4*50<<20, time.Minute); a != b {
		t.Errorf("4x soft messages gives level %d, 4x soft bytes %d; want equal", a, b)
	}
}

func TestLevelMonotonic(t *testing.T) {
	c := DefaultConfig()
	sizes := []int64{0, 1 << 20, 50 << 20, 51 << 20, 120 << 20, 1 << 30, 8 << 30, 1 << 40}
	intervals := []time.Duration{time.Hour, 5 * time.Minute, 299 * time.Second, time.Minute, time.Second, time.Millisecond}
	for i, s := range sizes {
		for j, iv := range intervals {
			l := c.level(0, s, iv)
			if l < 0 || l > c.MaxLevel {
				t.Fatalf("level(%d, %s) = %d outside [0, %d]", s, iv, l, c.MaxLevel)
			}
			if i > 0 && c.level(0, sizes[i-1], iv) > l {
				t.Errorf("level falls from size %d to %d at %s", sizes[i-1], s, iv)
			}
			if j > 0 && c.level(0, s, intervals[j-1]) > l {
				t.Errorf("level falls from interval %s to %s at size %d", intervals[j-1], iv, s)
			}
		}
	}
}

func TestLevelCapsAtMax(t *testing.T) {
	c := DefaultConfig()
	c.MaxLevel = 3
	if l := c.level(1<<30, 1<<40, time.Second); l != 3 {
		t.Errorf("level of an enormous maildrop polled every second = %d, want MaxLevel 3", l)
	}
}

func TestLoginDelayGrowsAndCaps(t *testing.T) {
	c := DefaultConfig()
	c.MaxLevel = 20
	prev := time.Duration(-1)
	for l := 0; l <= 20; l++ {
		d := c.loginDelay(l)
		if d < prev {
			t.Errorf("loginDelay(%d) = %s < loginDelay(%d) = %s", l, d, l-1, prev)
		}
		if d > c.MaxDelay {
			t.Errorf("loginDelay(%d) = %s over MaxDelay %s", l, d, c.MaxDelay)
		}
		prev = d
	}
	if c.loginDelay(0) != 0 {
		t.Errorf("loginDelay(0) = %s, want 0", c.loginDelay(0))
	}
	if c.loginDelay(1) != c.DelayPerLevel || c.loginDelay(2) != 2*c.DelayPerLevel {
		t.Errorf("loginDelay(1), (2) = %s, %s; want %s, %s", c.loginDelay(1), c.loginDelay(2), c.DelayPerLevel, 2*c.DelayPerLevel)
	}
	if c.loginDelay(20) != c.MaxDelay {
		t.Errorf("loginDelay(20) = %s, want the cap %s", c.loginDelay(20), c.MaxDelay)
	}
}

func TestBandwidthShrinksWithLevel(t *testing.T) {
	c := DefaultConfig()
	if c.bandwidth(0) != 0 {
		t.Errorf("bandwidth(0) = %d, want unshaped", c.bandwidth(0))
	}
	if c.bandwidth(1) != int(c.Bandwidth) || c.bandwidth(4) != int(c.Bandwidth)/4 {
		t.Errorf("bandwidth(1), (4) = %d, %d; want %d, %d", c.bandwidth(1), c.bandwidth(4), c.Bandwidth, c.Bandwidth/4)
	}
	c.Bandwidth = 0
	if c.bandwidth(5) != 0 {
		t.Errorf("bandwidth with BANDWIDTH=0 = %d, want unshaped", c.bandwidth(5))
	}
}
