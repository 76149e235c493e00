package config

import (
	"fmt"
	"strings"
	"time"
)

// UIDLConfig holds the POPGATE_UIDL_* variables of UIDL continuity (package
// rewrite): Config embeds it with envPrefix "UIDL_".
type UIDLConfig struct {
	// LearnFrom names the legacy backends whose sessions are learned from;
	// sessions on any other backend are mapped. Empty means every pop3://
	// and pop3s:// backend.
	LearnFrom []string `env:"LEARN_FROM"`
	// LearnBudget is how many messages one session may fetch headers of at
	// QUIT to learn them; LearnBudgetTime stops that fetching sooner.
	LearnBudget     int           `env:"BUDGET" envDefault:"50"`
	LearnBudgetTime time.Duration `env:"BUDGET_TIME" envDefault:"300ms"`
	// DisableRewrite turns UIDL continuity off.
	DisableRewrite bool `env:"DISABLE"`
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
	if u.LearnBudget < 0 {
		l.Add("UIDL_BUDGET", fmt.Errorf("%d must not be negative", u.LearnBudget))
	}
	if u.LearnBudgetTime < 0 {
		l.Add("UIDL_BUDGET_TIME", fmt.Errorf("%v must not be negative", u.LearnBudgetTime))
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

// print writes one line per UIDL setting.
func (u *UIDLConfig) print(line func(name string, v any)) {
	line("UIDL_LEARN_FROM", strings.Join(u.LearnFrom, ","))
	line("UIDL_BUDGET", u.LearnBudget)
	line("UIDL_BUDGET_TIME", u.LearnBudgetTime)
	line("UIDL_DISABLE", u.DisableRewrite)
}
