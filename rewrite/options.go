package rewrite

import (
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/store"
)

// Defaults for the zero values of Options.
const (
	DefaultBudget     = 50
	DefaultBudgetTime = 300 * time.Millisecond
	DefaultRecheck    = 10 * time.Minute
)

// Options configure the decorators.
type Options struct {
	// Store holds the maps; required.
	Store store.UIDLStore
	// Budget and BudgetTime bound the headers a Learner fetches at QUIT;
	// zero means the defaults, negative means none.
	Budget     int
	BudgetTime time.Duration
	// Recheck is how long a Decorator trusts a complete learn of a legacy
	// maildrop whose STAT has not changed since (see Learner.Update); zero
	// means DefaultRecheck, negative turns that shortcut off. A Learner
	// made by Learn alone learns at every QUIT.
	Recheck time.Duration
	// Logger receives a warning per old message that gets a new UIDL and
	// errors of the store; default zap.NewNop().
	Logger *zap.Logger
}

func (o Options) budget() (int, time.Duration) {
	n, d := o.Budget, o.BudgetTime
	if n == 0 {
		n = DefaultBudget
	}
	if d == 0 {
		d = DefaultBudgetTime
	}
	return max(n, 0), d
}

func (o Options) recheck() time.Duration {
	if o.Recheck == 0 {
		return DefaultRecheck
	}
	return o.Recheck
}

func (o Options) logger() *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger
}
