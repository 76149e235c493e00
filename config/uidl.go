package config

import (
	"fmt"
	"strings"
)

// The POPGATE_UIDL_* variables are rewrite.Config's own fields (its env tags
// name them), embedded in Config with envPrefix "UIDL_".

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
	if u.Budget < 0 {
		l.Add("UIDL_BUDGET", fmt.Errorf("%d must not be negative", u.Budget))
	}
	if u.BudgetTime < 0 {
		l.Add("UIDL_BUDGET_TIME", fmt.Errorf("%v must not be negative", u.BudgetTime))
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

// printUIDL writes one line per UIDL setting.
func (c *Config) printUIDL(line func(name string, v any)) {
	u := &c.UIDL
	line("UIDL_LEARN_FROM", strings.Join(u.LearnFrom, ","))
	line("UIDL_BUDGET", u.Budget)
	line("UIDL_BUDGET_TIME", u.BudgetTime)
	line("UIDL_RECHECK", u.Recheck)
	line("UIDL_DISABLE", u.Disable)
}
