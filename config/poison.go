package config

import (
	"fmt"

	"github.com/popgate/popgate/poison"
)

// PoisonVars are the POPGATE_POISON_* variables.
type PoisonVars struct {
	// PoisonLimit is the broken transfers of one message in a row that
	// flag it as poison; 0 turns the detection off.
	PoisonLimit int `env:"LIMIT" envDefault:"3"`
	// PoisonAction is what happens to a flagged message: none, skip or
	// replace.
	PoisonAction string `env:"ACTION" envDefault:"none"`
}

// PoisonOptions returns the poison-message options, without Store, Logger
// and Hostname.
func (c Config) PoisonOptions() poison.Options {
	return poison.Options{Limit: c.Poison.PoisonLimit, Action: c.Poison.PoisonAction}
}

func (c *Config) validatePoison(l *ErrorList) {
	if c.Poison.PoisonLimit < 0 {
		l.Add("POISON_LIMIT", fmt.Errorf("%d must not be negative", c.Poison.PoisonLimit))
	}
	if !poison.ValidAction(c.Poison.PoisonAction) {
		l.Add("POISON_ACTION", fmt.Errorf("%q: want none, skip or replace", c.Poison.PoisonAction))
	}
}

func (c *Config) printPoison(line func(name string, v any)) {
	line("POISON_LIMIT", c.Poison.PoisonLimit)
	line("POISON_ACTION", c.Poison.PoisonAction)
}
