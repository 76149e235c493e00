package health

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults for the zero values of Options.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 5 * time.Second
	// DefaultFailures is how many checks in a row must fail before a
	// backend counts as down: one lost check must not refuse every login
	// for a whole interval.
	DefaultFailures = 2
)

// Probe checks one backend; nil means healthy.
type Probe func(ctx context.Context) error

// Options configure a Checker. Every field may be zero.
type Options struct {
	// Interval is the time between two checks of a backend.
	Interval time.Duration
	// Timeout bounds one check.
	Timeout time.Duration
	Logger  *zap.Logger
	// Failures is how many checks in a row must fail before a backend is
	// down (its logins refused, /readyz naming it).
	Failures int
	// Strict makes the instance unready while any backend is down. By
	// default a down backend is only reported: every instance sees the same
	// backends, so taking all of them out of the balancer would also cut
	// off the users of the backends that work.
	Strict bool
	// OnChange is called after every check with its outcome, for metrics.
	OnChange func(backend string, up bool)
}

// Status is the outcome of a backend's last check.
type Status struct {
	Backend string `json:"backend"`
	// Checked is zero until the first check has finished.
	Checked time.Time `json:"checked,omitzero"`
	Healthy bool      `json:"healthy"`
	Error   string    `json:"error,omitempty"`
	err     error
	// failed counts the checks in a row that failed.
	failed int
}

// Checker runs the probes. It is safe for concurrent use.
type Checker struct {
	o      Options
	probes map[string]Probe
	// storeProbe checks the state store (WatchStore); nil when none.
	storeProbe Probe

	mu     sync.RWMutex
	status map[string]Status
	store  Status
	// lastAnswer is when each backend last answered a real login (Guard):
	// such a backend needs no check, and its server's log no line for one.
	lastAnswer map[string]time.Time
}

// New returns a Checker with no backends.
func New(o Options) *Checker {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Failures <= 0 {
		o.Failures = DefaultFailures
	}
	return &Checker{o: o, probes: map[string]Probe{}, status: map[string]Status{}, store: Status{Backend: storeName, Healthy: true},
		lastAnswer: map[string]time.Time{}}
}

// storeName names the state store in logs and in the /readyz body.
const storeName = "store"

// WatchStore checks the state store with p at every interval: while it
// fails the instance is not ready, and /readyz says so. Call it before
// Run; onChange (may be nil) gets each outcome, for metrics.
func (c *Checker) WatchStore(p Probe, onChange func(up bool)) {
	c.storeProbe = func(ctx context.Context) error {
		err := p(ctx)
		if onChange != nil {
			onChange(err == nil)
		}
		return err
	}
}

// Add registers a backend's probe. Call it before Run.
func (c *Checker) Add(backend string, p Probe) {
	c.probes[backend] = p
	c.status[backend] = Status{Backend: backend}
}

// Run checks every backend at once, then each Interval, until ctx is done.
// Backends are checked concurrently, so a hanging one delays no other.
func (c *Checker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for name, p := range c.probes {
		wg.Go(func() { c.loop(ctx, name, p, false) })
	}
	if c.storeProbe != nil {
		wg.Go(func() { c.loop(ctx, storeName, c.storeProbe, true) })
	}
	wg.Wait()
}

func (c *Checker) loop(ctx context.Context, name string, p Probe, isStore bool) {
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	for {
		if !isStore && c.answeredWithin(name, c.o.Interval) {
			c.record(name, nil, false)
		} else {
			c.check(ctx, name, p, isStore)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check runs one probe and records its outcome, logging changes. A
// backend is down after Failures checks in a row failed; the store at the
// first failure, since its callers notice at once anyway.
func (c *Checker) check(ctx context.Context, name string, p Probe, isStore bool) {
	pctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	err := p(pctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the outcome says nothing about the backend
	}
	c.record(name, err, isStore)
}

// sawAnswer records that backend answered a real login now.
func (c *Checker) sawAnswer(backend string) {
	c.mu.Lock()
	c.lastAnswer[backend] = time.Now()
	c.mu.Unlock()
}

// answeredWithin reports whether backend answered a real login within d.
func (c *Checker) answeredWithin(backend string, d time.Duration) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.lastAnswer[backend]
	return ok && time.Since(t) < d
}

// record stores the outcome of a check, logging changes.
func (c *Checker) record(name string, err error, isStore bool) {
	c.mu.Lock()
	prev := c.status[name]
	if isStore {
		prev = c.store
	}
	s := Status{Backend: name, Checked: time.Now(), Healthy: true}
	if err != nil {
		s.failed = prev.failed + 1
		s.Error, s.err = err.Error(), err
		s.Healthy = !isStore && s.failed < c.o.Failures
	}
	if isStore {
		c.store = s
	} else {
		c.status[name] = s
	}
	c.mu.Unlock()
	wasDown := !prev.Healthy && !prev.Checked.IsZero()
	switch {
	case !s.Healthy && !wasDown && isStore:
		c.o.Logger.Warn("state store unreachable: instance not ready until it answers", zap.Error(err))
	case !s.Healthy && !wasDown:
		c.o.Logger.Warn("backend unhealthy; refusing its logins until a check succeeds",
			zap.String("backend", name), zap.Int("failed_checks", s.failed), zap.Error(err))
	case s.Healthy && wasDown && isStore:
		c.o.Logger.Info("state store reachable again")
	case s.Healthy && wasDown:
		c.o.Logger.Info("backend healthy again", zap.String("backend", name))
	}
	if c.o.OnChange != nil && !isStore {
		c.o.OnChange(name, s.Healthy)
	}
}

// StoreStatus returns the state store's last outcome, and false when no
// store is watched.
func (c *Checker) StoreStatus() (Status, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.store, c.storeProbe != nil
}

// Status returns every backend's last outcome, sorted by name.
func (c *Checker) Status() []Status {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Status, 0, len(c.status))
	for _, s := range c.status {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Backend, b.Backend) })
	return out
}

// lookup returns a backend's status; ok is false for a backend not checked.
func (c *Checker) lookup(backend string) (Status, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.status[backend]
	return s, ok
}
