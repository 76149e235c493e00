package config

import (
	"errors"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// VarError is a problem with one variable's value.
type VarError struct {
	Var string // full name, POPGATE_...
	Err error
}

func (e *VarError) Error() string { return e.Var + ": " + e.Err.Error() }

func (e *VarError) Unwrap() error { return e.Err }

// ErrorList is every problem found, so that an operator can fix them all in
// one go. Its text has one problem per line.
type ErrorList []*VarError

func (l ErrorList) Error() string { return join(l, "\n", (*VarError).Error) }

// Add appends a problem with variable name (without the POPGATE_ prefix).
func (l *ErrorList) Add(name string, err error) {
	*l = append(*l, &VarError{Var: Prefix + name, Err: err})
}

// Err returns l as an error, or nil when empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// namedErrors turns env's errors, which name struct fields, into VarErrors
// naming variables.
func namedErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return ErrorList{{Var: Prefix + "*", Err: err}}
	}
	keys := fieldKeys(reflect.TypeFor[Config](), Prefix)
	var l ErrorList
	for _, e := range agg.Errors {
		var (
			pe  env.ParseError
			ee  env.EmptyVarError
			ne  env.VarIsNotSetError
			fe  env.LoadFileContentError
			key = Prefix + "*"
			msg = e
		)
		switch {
		case errors.As(e, &pe):
			if k, ok := keys[pe.Name]; ok {
				key = k
			}
			msg = pe.Err
		case errors.As(e, &ee):
			key, msg = ee.Key, errors.New("must not be empty")
		case errors.As(e, &ne):
			key, msg = ne.Key, errors.New("must be set")
		case errors.As(e, &fe):
			key, msg = fe.Key, fe.Err
		}
		l = append(l, &VarError{Var: key, Err: msg})
	}
	return l
}

// fieldKeys maps each field name of t (recursively, following envPrefix) to
// its variable. env reports parse errors by field name only, which is why
// field names must be unique across nested structs.
func fieldKeys(t reflect.Type, prefix string) map[string]string {
	keys := map[string]string{}
	for f := range t.Fields() {
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			for k, v := range fieldKeys(f.Type, prefix+f.Tag.Get("envPrefix")) {
				keys[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name != "" && name != "-" {
			keys[f.Name] = prefix + name
		}
	}
	return keys
}
