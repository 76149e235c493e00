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
}

// Checker runs the probes. It is safe for concurrent use.
type Checker struct {
	o      Options
	probes map[string]Probe

	mu     sync.RWMutex
	status map[string]Status
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
	return &Checker{o: o, probes: map[string]Probe{}, status: map[string]Status{}}
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
		wg.Go(func() { c.loop(ctx, name, p) })
	}
	wg.Wait()
}

func (c *Checker) loop(ctx context.Context, name string, p Probe) {
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	for {
		c.check(ctx, name, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check runs one probe and records its outcome, logging changes.
func (c *Checker) check(ctx context.Context, name string, p Probe) {
	pctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	err := p(pctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the outcome says nothing about the backend
	}
	s := Status{Backend: name, Checked: time.Now(), Healthy: err == nil, err: err}
	if err != nil {
		s.Error = err.Error()
	}
	c.mu.Lock()
	prev := c.status[name]
	c.status[name] = s
	c.mu.Unlock()
	switch {
	case err != nil && (prev.Healthy || prev.Checked.IsZero()):
		c.o.Logger.Warn("backend unhealthy; refusing its logins until a check succeeds",
			zap.String("backend", name), zap.Error(err))
	case err == nil && !prev.Healthy && !prev.Checked.IsZero():
		c.o.Logger.Info("backend healthy again", zap.String("backend", name))
	}
	if c.o.OnChange != nil {
		c.o.OnChange(name, err == nil)
	}
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
