package rewrite

import (
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/store"
)

// Config is the operator's UIDL continuity settings, parsed from the
// environment by package config (embedded with envPrefix "UIDL_", giving
// POPGATE_UIDL_LEARN_FROM, POPGATE_UIDL_BUDGET, POPGATE_UIDL_BUDGET_TIME,
// POPGATE_UIDL_RECHECK and POPGATE_UIDL_DISABLE).
type Config struct {
	// LearnFrom names the legacy backends: sessions on them are learned
	// from, sessions on any other backend are mapped. Empty means every
	// pop3:// and pop3s:// backend (decided by the caller, who knows the
	// backends' kinds).
	LearnFrom []string `env:"LEARN_FROM"`
	// Budget is how many messages a session may fetch headers of at QUIT
	// to learn them.
	Budget int `env:"BUDGET" envDefault:"50"`
	// BudgetTime stops that fetching once it has taken this long.
	BudgetTime time.Duration `env:"BUDGET_TIME" envDefault:"300ms"`
	// Recheck is how long a complete learn of a legacy maildrop is trusted
	// while the maildrop's STAT stays the same: within it, a session that
	// deletes nothing skips learning at QUIT (see Learner.Update). Zero or
	// negative learns at every QUIT.
	Recheck time.Duration `env:"RECHECK" envDefault:"10m"`
	// Disable turns UIDL continuity off.
	Disable bool `env:"DISABLE"`
}

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
	// Logger receives a warning per message that gets a new UIDL and
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
