package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Step is one command of a session script.
type Step struct {
	Op    string // STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, IDLE
	Count int    // messages to act on; 0 means all (RETR, TOP, DELE)
	Lines int    // TOP's line count
}

// ParseScript parses a comma-separated script such as
// "stat,uidl,retr:all,dele:2". Login comes before the script and QUIT after
// it. "top:N:L" fetches the headers and L body lines of N messages; "idle"
// holds the authenticated session open until the run ends.
func ParseScript(s string) ([]Step, error) {
	var steps []Step
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		parts := strings.Split(f, ":")
		st := Step{Op: strings.ToUpper(parts[0])}
		switch st.Op {
		case "STAT", "LIST", "UIDL", "NOOP", "IDLE":
			if len(parts) != 1 {
				return nil, fmt.Errorf("script step %q takes no argument", f)
			}
		case "RETR", "DELE", "TOP":
			if len(parts) > 1 {
				n, err := parseCount(parts[1])
				if err != nil {
					return nil, fmt.Errorf("script step %q: %v", f, err)
				}
				st.Count = n
			}
			if st.Op == "TOP" {
				if len(parts) > 2 {
					n, err := strconv.Atoi(parts[2])
					if err != nil || n < 0 {
						return nil, fmt.Errorf("script step %q: bad line count", f)
					}
					st.Lines = n
				}
			} else if len(parts) > 2 {
				return nil, fmt.Errorf("script step %q: too many arguments", f)
			}
		default:
			return nil, fmt.Errorf("script step %q: unknown command", f)
		}
		steps = append(steps, st)
	}
	return steps, nil
}

func parseCount(s string) (int, error) {
	if s == "all" || s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bad count %q (want a positive number or all)", s)
	}
	return n, nil
}
