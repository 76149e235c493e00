package routes

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// maxReported caps the problems listed for one bad file.
const maxReported = 20

// Table is one parsed routes file. It is immutable.
type Table struct {
	exact    map[string]string // folded user name -> backend
	patterns []rule            // in file order
}

type rule struct {
	pattern, backend string
}

// Route returns the backend for user; ok is false when no line matches.
func (t *Table) Route(user string) (backend string, ok bool) {
	backend, _, ok = t.Explain(user)
	return backend, ok
}

// Explain is Route that also returns the rule that matched: the user's
// own name or the pattern, as folded in the file.
func (t *Table) Explain(user string) (backend, rule string, ok bool) {
	if t == nil {
		return "", "", false
	}
	u := fold(user)
	if b, ok := t.exact[u]; ok {
		return b, u, true
	}
	for _, r := range t.patterns {
		if m, _ := path.Match(r.pattern, u); m {
			return r.backend, r.pattern, true
		}
	}
	return "", "", false
}

// Len is the number of rules (exact names and patterns).
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.exact) + len(t.patterns)
}

// rules returns every rule's key (user or pattern) with its backend.
func (t *Table) rules() map[string]string {
	m := make(map[string]string, t.Len())
	if t == nil {
		return m
	}
	for u, b := range t.exact {
		m[u] = b
	}
	for _, r := range t.patterns {
		m[r.pattern] = r.backend
	}
	return m
}

// LineError is a problem on one line of a routes file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Load reads and parses the routes file at name. knownBackends, when not
// nil, are the only backend names allowed.
func Load(name string, knownBackends []string) (*Table, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	defer f.Close()
	return Parse(f, name, knownBackends)
}

// Parse reads a routes file from r; name labels errors. Every bad line is
// reported (up to 20), each as a *LineError joined with errors.Join.
func Parse(r io.Reader, name string, knownBackends []string) (*Table, error) {
	t := &Table{exact: map[string]string{}}
	seen := map[string]int{} // user or pattern -> line
	var errs []error
	bad := func(line int, format string, args ...any) {
		if len(errs) < maxReported {
			errs = append(errs, &LineError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
		}
	}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		switch {
		case len(fields) == 0:
			continue
		case len(fields) != 2:
			bad(n, "want \"user backend\", got %d fields", len(fields))
			continue
		}
		user, backend := fold(fields[0]), fields[1]
		if knownBackends != nil && !slices.Contains(knownBackends, backend) {
			bad(n, "unknown backend %q (known: %s)", backend, strings.Join(knownBackends, ", "))
			continue
		}
		if first, dup := seen[user]; dup {
			bad(n, "%q is already routed on line %d", fields[0], first)
			continue
		}
		if !isPattern(user) {
			seen[user] = n
			t.exact[user] = backend
			continue
		}
		if _, err := path.Match(user, ""); err != nil {
			bad(n, "bad pattern %q", fields[0])
			continue
		}
		seen[user] = n
		t.patterns = append(t.patterns, rule{pattern: user, backend: backend})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

func isPattern(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// fold makes user names match case-insensitively (mail domains are, and
// clients are careless with case).
func fold(s string) string { return strings.ToLower(s) }
