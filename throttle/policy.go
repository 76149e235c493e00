package throttle

import (
	"math"
	"time"
)

// Penalty reasons, joined with "+" in Decision.Reason.
const (
	ReasonSize         = "size"
	ReasonFrequency    = "frequency"
	ReasonAuthFailures = "auth_failures"
	ReasonQueue        = "queue"
)

// level is the penalty for a maildrop of msgs messages and bytes octets
// polled interval after the previous login (interval <= 0: no previous
// login known). See the package doc for the formula.
func (c *Config) level(msgs int, bytes int64, interval time.Duration) int {
	s, f := c.sizeFactor(msgs, bytes), c.frequencyFactor(interval)
	if s <= 1 || f <= 1 {
		return 0
	}
	l := math.Ceil(math.Log2(s * f))
	if l >= float64(c.MaxLevel) || math.IsNaN(l) {
		return c.MaxLevel
	}
	return max(int(l), 1)
}

// sizeFactor is how many times over the soft limits the maildrop is.
func (c *Config) sizeFactor(msgs int, bytes int64) float64 {
	s := 0.0
	if c.SoftBytes > 0 {
		s = float64(bytes) / float64(c.SoftBytes)
	}
	if c.SoftMsgs > 0 {
		s = max(s, float64(msgs)/float64(c.SoftMsgs))
	}
	return s
}

// minInterval bounds the frequency factor: two logins in the same instant
// count as a millisecond apart.
const minInterval = time.Millisecond

// frequencyFactor is how many times more often than MinPollInterval the user
// polls; 0 when there is no previous login.
func (c *Config) frequencyFactor(interval time.Duration) float64 {
	if interval <= 0 {
		return 0
	}
	return float64(c.MinPollInterval) / float64(max(interval, minInterval))
}

// loginDelay is the delay before the backend login at level l (l is at
// most MaxLevel, so the product cannot overflow).
func (c *Config) loginDelay(l int) time.Duration {
	if l <= 0 || c.DelayPerLevel <= 0 {
		return 0
	}
	return min(time.Duration(l)*c.DelayPerLevel, c.MaxDelay)
}

// bandwidth is the RETR/TOP rate in bytes per second at level l; 0 means
// unshaped.
func (c *Config) bandwidth(l int) int {
	if l <= 0 || c.Bandwidth <= 0 {
		return 0
	}
	return int(max(int64(c.Bandwidth)/int64(l), 1))
}

// loginDelayCap is the user's own LOGIN-DELAY value in seconds: waiting
// MinPollInterval between logins brings any user back to level 0.
func (c *Config) loginDelayCap(l int) int {
	if l <= 0 {
		return 0
	}
	return int(c.MinPollInterval / time.Second)
}
