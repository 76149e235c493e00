package throttle

import (
	"strconv"
	"sync"
	"time"

	"github.com/popgate/popgate/pop3"
)

// Ticket is one session's passage through the throttle, from Admit to
// Release. Its methods may be called from the session's goroutine only,
// except Release, which is safe to call more than once and concurrently.
type Ticket struct {
	t                     *Throttle
	user, client, backend string
	// interval is the time since the user's previous login (0: none).
	interval time.Duration
	d        Decision
	// opened is the state Opened recorded.
	opened *UserState

	// slot is the backend limiter holding one of our sessions, if any,
	// taken at slotLevel (Opened may change the level later).
	slot      *slots
	slotLevel int
	// tooSoon is the [LOGIN-DELAY] refusal Refusal gives once the
	// credentials are verified; nil if the login may go on.
	tooSoon error
	// attempt holds the login's place under the failed-login limits
	// until its verdict.
	attempt *pending
	release sync.Once
	// shaped is the session's bandwidth limiter, nil if it has none.
	shaped *shaped
}

// Decision returns what the throttle did to the session so far.
func (tk *Ticket) Decision() Decision { return tk.d }

// Opened records a successful login with the maildrop size from STAT. It
// sets the session's final level from this size and remembers the login
// for the user's next poll. It also clears this client's failed logins
// against the user.
func (tk *Ticket) Opened(msgs int, bytes int64) {
	if !tk.t.Enabled() {
		return
	}
	if tk.tooSoon != nil {
		// Refused by Refusal: the password was right, but a refused
		// attempt is not a login, so the interval still counts from the
		// last one.
		tk.t.auth.succeeded(tk.attempt, tk.t.now())
		return
	}
	cfg := tk.t.conf()
	tk.d.Level = cfg.level(msgs, bytes, tk.interval)
	if tk.d.Level > 0 {
		tk.d.addReason(ReasonSize)
		tk.d.addReason(ReasonFrequency)
	}
	st := UserState{
		LastLogin: tk.t.now(),
		Interval:  tk.interval,
		Msgs:      msgs,
		Bytes:     bytes,
		Level:     tk.d.Level,
	}
	tk.opened = &st
	tk.t.state.Put(tk.user, st)
	tk.t.auth.succeeded(tk.attempt, tk.t.now())
}

// Refusal is the [LOGIN-DELAY] refusal of a user who polls again sooner
// than the LOGIN-DELAY announced at the previous login, given only after
// the backend accepted the credentials (session.Refuser).
func (tk *Ticket) Refusal() error { return tk.tooSoon }

// Failed ends a login the backend refused and releases the ticket. Only
// an error carrying pop3.CodeAuth counts as a failed login; an unreachable
// or busy backend is not the client's fault.
func (tk *Ticket) Failed(err error) {
	defer tk.Release()
	if tk.t.Enabled() && pop3.CodeOf(err) == pop3.CodeAuth {
		tk.t.auth.failed(tk.attempt, tk.t.now())
	}
}

// Updated records what the session's UPDATE left in the maildrop, so a
// user who deleted mail is judged by the smaller size at the next poll.
func (tk *Ticket) Updated(r pop3.UpdateResult) {
	if !tk.t.Enabled() {
		return
	}
	// The state this session recorded at login, not a new read: one
	// store round trip less per session.
	if tk.opened == nil {
		return
	}
	st := *tk.opened
	st.Msgs, st.Bytes = r.LeftMsgs, r.LeftBytes
	tk.t.state.Put(tk.user, st)
}

// Release frees the session's backend slot, passing it to the best waiting
// login. Calling it again does nothing.
func (tk *Ticket) Release() {
	tk.release.Do(func() {
		tk.t.auth.abandoned(tk.attempt)
		if tk.slot != nil {
			tk.slot.release(tk.slotLevel)
		}
	})
}

// Bandwidth is the RETR/TOP rate of the session in bytes per second, 0 if
// it is not shaped.
func (tk *Ticket) Bandwidth() int {
	if !tk.t.Enabled() {
		return 0
	}
	return tk.t.conf().bandwidth(tk.d.Level)
}

// Caps returns the capabilities to add to CAPA after login: the user's own
// LOGIN-DELAY (RFC 2449 section 6.8).
func (tk *Ticket) Caps() []string {
	if !tk.t.Enabled() {
		return nil
	}
	return []string{"LOGIN-DELAY " + strconv.Itoa(tk.t.conf().loginDelayCap(tk.d.Level))}
}
