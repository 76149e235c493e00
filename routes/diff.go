package routes

import (
	"fmt"
	"sort"
	"strings"
)

// maxListed caps the changes spelled out by Diff.String.
const maxListed = 10

// Change is one rule (user or pattern) that differs between two tables.
// From is empty for an added rule, To for a removed one.
type Change struct {
	User, From, To string
}

// Diff is what a reload changed.
type Diff struct {
	Before, After int      // rule counts
	Changes       []Change // sorted by user
}

// Compare lists the rules that were added, removed or moved to another
// backend between old and new.
func Compare(old, new *Table) Diff {
	o, n := old.rules(), new.rules()
	d := Diff{Before: len(o), After: len(n)}
	for u, b := range o {
		if nb := n[u]; nb != b {
			d.Changes = append(d.Changes, Change{User: u, From: b, To: nb})
		}
	}
	for u, b := range n {
		if _, ok := o[u]; !ok {
			d.Changes = append(d.Changes, Change{User: u, To: b})
		}
	}
	sort.Slice(d.Changes, func(i, j int) bool { return d.Changes[i].User < d.Changes[j].User })
	return d
}

// Counts returns how many rules were added, removed and moved.
func (d Diff) Counts() (added, removed, moved int) {
	for _, c := range d.Changes {
		switch {
		case c.From == "":
			added++
		case c.To == "":
			removed++
		default:
			moved++
		}
	}
	return
}

// String summarises the diff on one line, naming the first few changes.
func (d Diff) String() string {
	a, r, m := d.Counts()
	s := fmt.Sprintf("%d rules (was %d): %d added, %d removed, %d moved", d.After, d.Before, a, r, m)
	if len(d.Changes) == 0 {
		return s
	}
	list := make([]string, 0, maxListed)
	for i, c := range d.Changes {
		if i == maxListed {
			list = append(list, fmt.Sprintf("and %d more", len(d.Changes)-maxListed))
			break
		}
		list = append(list, c.String())
	}
	return s + ": " + strings.Join(list, ", ")
}

// String renders "bob legacy->native", "+bob native" or "-bob legacy".
func (c Change) String() string {
	switch {
	case c.From == "":
		return "+" + c.User + " " + c.To
	case c.To == "":
		return "-" + c.User + " " + c.From
	}
	return c.User + " " + c.From + "->" + c.To
}
