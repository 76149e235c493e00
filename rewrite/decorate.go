package rewrite

import (
	"context"
	"slices"
	"sync"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
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

// NewDecorator returns a Decorator with options o that learns from the
// sessions on the legacy backends and maps those on every other one.
func NewDecorator(o Options, legacy ...string) *Decorator {
	d := &Decorator{Options: o, IsLegacy: LegacyNamed(slices.Clone(legacy)...)}
	d.record()
	return d
}

var _ session.Decorator = (*Decorator)(nil)

// Decorate wraps m, the Mailbox of session s, in a Learner or a Mapper.
func (d *Decorator) Decorate(_ context.Context, s *session.Info, m pop3.Mailbox) pop3.Mailbox {
	return d.wrap(m, s.User, s.Backend)
}

// wrap wraps m, a session's Mailbox for user on backend, in a Learner or
// a Mapper.
func (d *Decorator) wrap(m pop3.Mailbox, user, backend string) pop3.Mailbox {
	if d.IsLegacy != nil && d.IsLegacy(backend) {
		l := Learn(m, user, backend, d.Options)
		l.rec = d.record()
		return l
	}
	return Map(m, user, backend, d.Options)
}

// record returns the Decorator's record of complete learns, creating it at
// the first call.
func (d *Decorator) record() *learnRecord {
	d.once.Do(func() { d.rec = newLearnRecord(d.recheck()) })
	return d.rec
}
