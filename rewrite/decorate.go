package rewrite

import (
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store"
)

// Decorator chooses, per session, between learning and mapping. Its
// Learners share a record of complete learns (see Learner.Update), so a
// Decorator must not be copied once used.
type Decorator struct {
	Options
	// IsLegacy reports whether a backend is a legacy server whose
	// sessions are learned from. Sessions on other backends are mapped.
	IsLegacy func(backend string) bool

	once sync.Once
	rec  *learnRecord // shared by the Learners; nil when Recheck is negative
}

// LegacyNamed returns an IsLegacy predicate for the named backends.
func LegacyNamed(names ...string) func(string) bool {
	return func(b string) bool { return slices.Contains(names, b) }
}

// Decorate wraps m, a session's Mailbox for user on backend, in a Learner
// or a Mapper. The result has the shape of a proxy.Decorator's:
//
//	func(ctx context.Context, s *proxy.SessionInfo, m pop3.Mailbox) pop3.Mailbox {
//		return d.Decorate(m, s.User, s.Backend)
//	}
func (d *Decorator) Decorate(m pop3.Mailbox, user, backend string) pop3.Mailbox {
	if d.IsLegacy != nil && d.IsLegacy(backend) {
		l := Learn(m, user, backend, d.Options)
		l.rec = d.record()
		return l
	}
	return Map(m, user, backend, d.Options)
}

// FromConfig returns the Decorator for c, or nil when c.Disable is set.
// pop3Backends names the configured pop3:// and pop3s:// backends: they are
// the legacy ones when c.LearnFrom is empty.
func FromConfig(c Config, st store.UIDLStore, log *zap.Logger, pop3Backends []string) *Decorator {
	if c.Disable {
		return nil
	}
	legacy := c.LearnFrom
	if len(legacy) == 0 {
		legacy = pop3Backends
	}
	recheck := c.Recheck
	if recheck <= 0 {
		recheck = -1 // Options: zero means the default, negative none
	}
	d := &Decorator{
		Options:  Options{Store: st, Budget: c.Budget, BudgetTime: c.BudgetTime, Recheck: recheck, Logger: log},
		IsLegacy: LegacyNamed(slices.Clone(legacy)...),
	}
	d.record()
	return d
}

// record returns the Decorator's record of complete learns, creating it at
// the first call.
func (d *Decorator) record() *learnRecord {
	d.once.Do(func() { d.rec = newLearnRecord(d.recheck()) })
	return d.rec
}
