package rewrite

import (
	"slices"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store"
)

// Decorator chooses, per session, between learning and mapping.
type Decorator struct {
	Options
	// IsLegacy reports whether a backend is a legacy server whose
	// sessions are learned from. Sessions on other backends are mapped.
	IsLegacy func(backend string) bool
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
		return Learn(m, user, backend, d.Options)
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
	return &Decorator{
		Options:  Options{Store: st, Budget: c.Budget, BudgetTime: c.BudgetTime, Logger: log},
		IsLegacy: LegacyNamed(slices.Clone(legacy)...),
	}
}
