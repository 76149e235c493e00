package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// UIDLPasswordVar holds the user's password for "popgate uidl verify"; it
// is read by that command, not by the server.
const UIDLPasswordVar = Prefix + "UIDL_PASSWORD"

// knownVars is every variable popgate reads, with the prefix.
var knownVars = func() []string {
	names := []string{UIDLPasswordVar}
	for _, v := range fieldKeys(reflect.TypeFor[Config](), Prefix) {
		names = append(names, v)
	}
	sort.Strings(names)
	return names
}()

// unknownVars reports each POPGATE_* variable of m that popgate does not
// read: a misspelt name would otherwise be ignored silently, and the
// setting it was meant for would keep its default.
func unknownVars(m map[string]string) ErrorList {
	known := make(map[string]bool, len(knownVars))
	for _, v := range knownVars {
		known[v] = true
	}
	var l ErrorList
	for k := range m {
		if !strings.HasPrefix(k, Prefix) || known[k] {
			continue
		}
		l = append(l, &VarError{Var: k, Err: fmt.Errorf("unknown variable; did you mean %s?", closestVar(k))})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Var < l[j].Var })
	return l
}

// closestVar is the known variable nearest to name by edit distance.
func closestVar(name string) string {
	best, bestD := "", -1
	for _, v := range knownVars {
		if d := editDistance(name, v); bestD < 0 || d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
