package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/popgate/popgate/rewrite"
)

// UIDLVars are the POPGATE_UIDL_* variables. A variable left unset is nil
// here and takes rewrite's default (rewrite.DefaultBudget, ...), which is
// where the defaults live.
type UIDLVars struct {
	// LearnFrom names the legacy backends: sessions on them are learned
	// from, sessions on any other backend are mapped. Empty means every
	// pop3:// and pop3s:// backend.
	LearnFrom []string `env:"LEARN_FROM"`
	// Budget is how many messages a session may fetch headers of at QUIT
	// to learn them; 0 fetches none.
	Budget *int `env:"BUDGET"`
	// BudgetTime stops that fetching once it has taken this long.
	BudgetTime *time.Duration `env:"BUDGET_TIME"`
	// Recheck is how long a complete learn of an unchanged legacy
	// maildrop is trusted; zero or negative learns at every QUIT.
	Recheck *time.Duration `env:"RECHECK"`
	// Disable turns UIDL continuity off.
	Disable bool `env:"DISABLE"`
}

// UIDLOptions returns the UIDL continuity options (without Store and
// Logger) and the legacy backends to learn from; ok is false when
// POPGATE_UIDL_DISABLE is set. This is where the variables' "0 means none"
// becomes rewrite's "negative means none".
func (c Config) UIDLOptions() (o rewrite.Options, legacy []string, ok bool) {
	u := &c.UIDL
	if u.Disable {
		return rewrite.Options{}, nil, false
	}
	if u.Budget != nil {
		o.Budget = *u.Budget
		if o.Budget == 0 {
			o.Budget = -1
		}
	}
	if u.BudgetTime != nil {
		o.BudgetTime = *u.BudgetTime
	}
	if u.Recheck != nil {
		o.Recheck = *u.Recheck
		if o.Recheck <= 0 {
			o.Recheck = -1
		}
	}
	legacy = u.LearnFrom
	if len(legacy) == 0 {
		legacy = c.LegacyBackends()
	}
	return o, legacy, true
}

// LegacyBackends lists the pop3:// and pop3s:// backends.
func (c Config) LegacyBackends() []string {
	var names []string
	for _, b := range c.Backends {
		if !b.Native() {
			names = append(names, b.Name)
		}
	}
	return names
}

// validateUIDL adds the UIDL settings' problems to l.
func (c *Config) validateUIDL(l *ErrorList) {
	u := &c.UIDL
	for _, name := range u.LearnFrom {
		b, ok := c.backend(name)
		switch {
		case !ok:
			l.Add("UIDL_LEARN_FROM", fmt.Errorf("%q is not a configured backend", name))
		case b.URL.Scheme != SchemePOP3 && b.URL.Scheme != SchemePOP3S:
			l.Add("UIDL_LEARN_FROM", fmt.Errorf("%q is not a pop3:// or pop3s:// backend", name))
		}
	}
	if u.Budget != nil && *u.Budget < 0 {
		l.Add("UIDL_BUDGET", fmt.Errorf("%d must not be negative", *u.Budget))
	}
	if u.BudgetTime != nil && *u.BudgetTime < 0 {
		l.Add("UIDL_BUDGET_TIME", fmt.Errorf("%v must not be negative", *u.BudgetTime))
	}
}

func (c *Config) backend(name string) (Backend, bool) {
	for _, b := range c.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// printUIDL writes one line per UIDL setting, with rewrite's defaults for
// the unset ones.
func (c *Config) printUIDL(line func(name string, v any)) {
	u := &c.UIDL
	line("UIDL_LEARN_FROM", strings.Join(u.LearnFrom, ","))
	line("UIDL_BUDGET", valueOr(u.Budget, rewrite.DefaultBudget))
	line("UIDL_BUDGET_TIME", valueOr(u.BudgetTime, rewrite.DefaultBudgetTime))
	line("UIDL_RECHECK", valueOr(u.Recheck, rewrite.DefaultRecheck))
	line("UIDL_DISABLE", u.Disable)
}

// valueOr returns *p, or def when the variable behind p was not set.
func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
