package throttle

import (
	"strings"
	"time"
)

// Decision is what the throttle did to one session, for its session line.
type Decision struct {
	// Level is the penalty level (0: full speed).
	Level int
	// Delay is the time the login was held on purpose: login delay,
	// failed-login delay and the wait in the admission queue, the sum of
	// the three below.
	Delay time.Duration
	// LoginDelay, AuthFailDelay and QueueWait are the parts of Delay.
	LoginDelay    time.Duration
	AuthFailDelay time.Duration
	QueueWait     time.Duration
	// Reason lists what caused a penalty or delay, joined with "+":
	// "size", "frequency", "auth_failures", "queue"; empty if none.
	Reason string
}

// addReason appends r to the Reason unless it is already there.
func (d *Decision) addReason(r string) {
	if d.Reason == "" {
		d.Reason = r
		return
	}
	for have := range strings.SplitSeq(d.Reason, "+") {
		if have == r {
			return
		}
	}
	d.Reason += "+" + r
}
