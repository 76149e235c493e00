package app

import (
	"flag"
	"io"
	"slices"
	"strings"
)

// newFlags is a flag set that reports its errors to the caller only.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseInterspersed parses fs's flags anywhere in args, not only before
// the first other argument ("uidl import PATH -scheme xuidl"), and returns
// the other arguments in order. "--" ends the flags. -h, -help and --help
// give flag.ErrHelp.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// helpRequested reports whether args ask for help before any "--".
func helpRequested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// unknownFlag returns the first argument that looks like a flag, for
// commands that take none.
func unknownFlag(args []string) (string, bool) {
	for _, a := range args {
		if a == "--" {
			return "", false
		}
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			return a, true
		}
	}
	return "", false
}
