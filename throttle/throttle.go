package throttle

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the collaborators of a Throttle. Every field may be zero.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends, returning ctx.Err() in that case;
	// nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// State stores per-user state; nil means an LRUState of
	// Config.StateSize users.
	State State
	// MaxSessions limits the concurrent sessions per backend name (from
	// the backend URL's max_sessions); absent or 0 means unlimited.
	MaxSessions map[string]int
	// Persist, when set, keeps the user states (unless State is set) and
	// the failed-login counts there instead of in memory, so that they
	// survive a restart or are shared by several instances.
	Persist KV
	// StoreDown is called when a Persist call fails after the last one
	// succeeded, StoreUp at the first success after that. The throttle
	// fails open meanwhile: it forgets, and lets logins through.
	StoreDown func(error)
	StoreUp   func()
}

// Key prefixes of the state kept in Options.Persist.
const (
	persistUser        = "user/"
	persistFailClient  = "fail-client/"
	persistFailNetwork = "fail-network/"
	persistFailUser    = "fail-user/"
	// persistUserTTL lets a shared store forget users who stopped polling.
	persistUserTTL = 30 * 24 * time.Hour
)

// Throttle applies the penalties of one popgate process. It is safe for
// concurrent use.
type Throttle struct {
	cfg   atomic.Pointer[Config] // replaced whole by Reload
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	state State
	auth  *authFailures

	// mu guards backends; each slots has its own lock.
	mu          sync.Mutex
	maxSessions map[string]int
	backends    map[string]*slots
}

// New returns a Throttle for a validated cfg.
func New(cfg Config, o Options) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Throttle{
		now:         o.Now,
		sleep:       o.Sleep,
		state:       o.State,
		maxSessions: o.MaxSessions,
		backends:    make(map[string]*slots),
	}
	t.cfg.Store(&cfg)
	if t.now == nil {
		t.now = time.Now
	}
	if t.sleep == nil {
		t.sleep = sleepTimer
	}
	t.auth = newAuthFailures(t.conf)
	if o.Persist != nil {
		h := &storeHealth{down: o.StoreDown, up: o.StoreUp}
		if t.state == nil {
			t.state = tableState{kvTable[UserState]{o.Persist, persistUser, persistUserTTL, h}}
		}
		t.auth.client = kvTable[failures]{o.Persist, persistFailClient, cfg.AuthFailWindow, h}
		t.auth.network = kvTable[failures]{o.Persist, persistFailNetwork, cfg.AuthFailWindow, h}
		t.auth.user = kvTable[userFailures]{o.Persist, persistFailUser, cfg.AuthFailWindow, h}
		return t, nil
	}
	if t.state == nil {
		s, err := NewLRUState(cfg.StateSize)
		if err != nil {
			return nil, err
		}
		t.state = s
	}
	var err error
	if t.auth.client, err = newLRUTable[failures](cfg.StateSize); err != nil {
		return nil, err
	}
	if t.auth.network, err = newLRUTable[failures](cfg.StateSize); err != nil {
		return nil, err
	}
	if t.auth.user, err = newLRUTable[userFailures](cfg.StateSize); err != nil {
		return nil, err
	}
	return t, nil
}

// Reset forgets what the throttle knows about user: its penalty level and
// its failed logins (popgate throttle reset).
func (t *Throttle) Reset(user string) {
	t.state.Delete(user)
	t.auth.reset(user)
}

// conf is the settings in force.
func (t *Throttle) conf() *Config { return t.cfg.Load() }

// Reload puts cfg in force for the logins from now on; the state (levels,
// failure counts, sessions) is kept. On error the settings in force stay.
func (t *Throttle) Reload(cfg Config) error {
	if err := t.CheckReload(cfg); err != nil {
		return err
	}
	t.cfg.Store(&cfg)
	return nil
}

// CheckReload reports whether Reload would accept cfg: it must be valid,
// and the state size cannot change in a running process.
func (t *Throttle) CheckReload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if old := t.conf(); cfg.StateSize != old.StateSize {
		return fmt.Errorf("throttle: the state size (%d, was %d) changes only with a restart", cfg.StateSize, old.StateSize)
	}
	return nil
}

// Enabled reports whether the throttle does anything at all.
func (t *Throttle) Enabled() bool { return t.conf().Enabled() }

// AdmitUser is called once the client has sent its credentials and before the
// backend login. It refuses clients with too many failed logins and (with
// EnforceLoginDelay) penalised users, sleeps the failed-login and login
// delays, then waits for a session slot on backend. With throttling off it
// only waits for the slot: a backend's session limit holds either way. The
// returned Ticket is never nil: on error it holds nothing but its
// Decision, for the session line. On success the caller must call Release
// when the session ends.
func (t *Throttle) AdmitUser(ctx context.Context, user, backend string, client net.Addr) (*Ticket, error) {
	tk := &Ticket{t: t, user: user, client: clientKey(client), backend: backend}
	start := t.now()
	if !t.Enabled() {
		return tk, t.admitSlot(ctx, tk)
	}

	// The user's state and the failure counts are read at the same time:
	// with a shared store each is a round trip.
	type stateRead struct {
		st UserState
		ok bool
	}
	read := make(chan stateRead, 1)
	go func() {
		st, ok := t.state.Get(user)
		read <- stateRead{st, ok}
	}()
	verdict, at := t.auth.begin(user, tk.client, start)
	tk.attempt = at
	r := <-read
	if verdict.refused != "" {
		tk.d.addReason(ReasonAuthFailures)
		return tk, errTooManyFailures(user, tk.client, verdict.refused)
	}
	if verdict.delay > 0 {
		tk.d.addReason(ReasonAuthFailures)
	}

	if st, ok := r.st, r.ok; ok {
		tk.interval = sinceLogin(start, st)
		tk.d.Level = t.conf().level(st.Msgs, st.Bytes, tk.interval)
	}
	d := verdict.delay
	if tk.d.Level > 0 {
		tk.d.addReason(ReasonSize)
		tk.d.addReason(ReasonFrequency)
		// Only a user told a LOGIN-DELAY above 0 at the previous login is
		// refused, and only once the password proves who is asking
		// (Refusal); everyone else is delayed.
		if t.conf().EnforceLoginDelay && r.st.Level > 0 {
			tk.tooSoon = errLoginTooSoon(user, tk.d.Level, tk.interval)
		} else {
			d += t.conf().loginDelay(tk.d.Level)
		}
	}

	if d > 0 {
		err := t.sleep(ctx, d)
		// One sleep for both delays; the failed-login delay comes first.
		slept := t.now().Sub(start)
		tk.d.AuthFailDelay = min(slept, verdict.delay)
		tk.d.LoginDelay = slept - tk.d.AuthFailDelay
		tk.d.Delay = slept
		if err != nil {
			return tk, fmt.Errorf("throttle: delaying login of %s: %w", user, err)
		}
	}

	return tk, t.admitSlot(ctx, tk)
}

// admitSlot waits for a session slot for tk and adds the wait to the
// login's Delay.
func (t *Throttle) admitSlot(ctx context.Context, tk *Ticket) error {
	queueStart := t.now()
	queued, err := t.acquire(ctx, tk)
	if queued {
		tk.d.QueueWait = t.now().Sub(queueStart)
		tk.d.Delay = tk.d.AuthFailDelay + tk.d.LoginDelay + tk.d.QueueWait
	}
	return err
}

// acquire takes a session slot on the ticket's backend for it, reporting
// whether it had to queue.
func (t *Throttle) acquire(ctx context.Context, tk *Ticket) (queued bool, err error) {
	s := t.slotsFor(tk.backend)
	tk.slotLevel = tk.d.Level
	w, ok := s.tryAcquire(tk.slotLevel)
	if ok {
		tk.slot = s
		return false, nil
	}
	tk.d.addReason(ReasonQueue)
	granted, err := s.wait(ctx, w, t.sleep, t.conf().QueueTimeout)
	switch {
	case granted:
		tk.slot = s
		return true, nil
	case err != nil:
		return true, fmt.Errorf("throttle: user %s waiting for backend %s: %w", tk.user, tk.backend, err)
	}
	active, _ := s.counts()
	return true, errQueueTimeout(tk.backend, tk.user, t.conf().QueueTimeout, active)
}

// slotsFor returns the session limiter of a backend, creating it on first
// use.
func (t *Throttle) slotsFor(backend string) *slots {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.backends[backend]
	if !ok {
		s = &slots{max: t.maxSessions[backend]}
		t.backends[backend] = s
	}
	return s
}

// Sessions returns the sessions open on backend and the logins waiting for
// one, for metrics.
func (t *Throttle) Sessions(backend string) (active, waiting int) {
	return t.slotsFor(backend).counts()
}

// Show returns what the throttle remembers about user and the level a
// login now would get (before its STAT). With the default in-memory state
// this only sees the users of this process: an operator command in another
// process must ask the serving one (admin endpoint).
func (t *Throttle) Show(user string) (UserState, int) {
	st, ok := t.state.Get(user)
	if !ok || !t.Enabled() {
		return st, 0
	}
	return st, t.conf().level(st.Msgs, st.Bytes, sinceLogin(t.now(), st))
}

// Caps returns the capabilities to add to CAPA in the
// AUTHORIZATION state: LOGIN-DELAY with the smallest value any user gets,
// marked USER because it varies per user (RFC 2449 section 6.8).
func (t *Throttle) Caps() []string {
	if !t.Enabled() {
		return nil
	}
	return []string{"LOGIN-DELAY 0 USER"}
}

// sinceLogin is the poll interval of a login at now, at least minInterval
// so that it never reads as "no previous login".
func sinceLogin(now time.Time, st UserState) time.Duration {
	return max(now.Sub(st.LastLogin), minInterval)
}

// sleepTimer is the real Sleep.
func sleepTimer(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
