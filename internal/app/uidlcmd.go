package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/migrate"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/uidl"
	"github.com/popgate/popgate/upstream"
)

// uidlPasswordVar holds the user's password for "popgate uidl verify".
const uidlPasswordVar = config.UIDLPasswordVar

const uidlUsage = `usage:
  popgate uidl import [-scheme auto|xuidl|qpopper-xuidl|qpopper-hex|qpopper-base80|popa3d] [-user NAME] [-quiet] [-replace] PATH
  popgate uidl show USER [BACKEND...]
  popgate uidl verify [-backend NAME | -server pop3://HOST:PORT] [-password-stdin] USER
verify reads the user's password from ` + uidlPasswordVar + ` or, with -password-stdin, from the first line of stdin.
import never overwrites recorded entries that disagree with a spool (learned
from the legacy server, or imported before): it reports them and leaves the user
as it was, unless -replace. It exits 1 when messages could not be read or mapped,
or users were left so.
With bbolt, the commands reach the map through the admin listener of a running
server; with Redis, directly.
`

// uidlEnv is what "popgate uidl" takes from the configuration.
type uidlEnv struct {
	// openStore opens the UIDL map; the subcommand closes it when done.
	openStore func() (store.UIDLStore, error)
	// backends are the configured openers by name, for verify -backend;
	// legacyBackend is verify's default.
	backends      map[string]pop3.Opener
	legacyBackend string
	// getenv reads uidlPasswordVar; stdin gives the password with
	// -password-stdin.
	getenv func(string) string
	stdin  io.Reader
}

// uidlCommand runs "popgate uidl import|show|verify". The arguments are
// checked before the configuration is loaded, so that help and usage
// errors need no valid configuration.
func uidlCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	run, code, done := parseUIDL(args, stdout, stderr)
	if done {
		return code
	}
	cfg, _, ok := loadConfig(environ, stderr)
	if !ok {
		return exitUsage
	}
	openers, closer, _, err := openBackends(cfg, nil)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	defer closer.Close()
	env := uidlEnv{
		openStore: func() (store.UIDLStore, error) { return openStoreForCommand(ctx, cfg) },
		backends:  openers,
		getenv:    lookup(environ),
		stdin:     os.Stdin,
	}
	if names := cfg.LegacyBackends(); len(names) > 0 {
		env.legacyBackend = names[0]
		if len(cfg.UIDL.LearnFrom) > 0 {
			env.legacyBackend = cfg.UIDL.LearnFrom[0]
		}
	}
	return uidlResult(run(ctx, env, stdout, stderr), stderr)
}

// lookup reads a variable from environ (os.Environ form).
func lookup(environ []string) func(string) string {
	return func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
}

// uidlRun is one parsed "popgate uidl" subcommand.
type uidlRun func(ctx context.Context, env uidlEnv, stdout, stderr io.Writer) error

// runUIDL runs "popgate uidl ARGS..." (args without "popgate uidl") and
// returns the exit status: 0 success, 1 failure (or a verify that found
// differences), 2 usage errors.
func runUIDL(ctx context.Context, args []string, env uidlEnv, stdout, stderr io.Writer) int {
	run, code, done := parseUIDL(args, stdout, stderr)
	if done {
		return code
	}
	return uidlResult(run(ctx, env, stdout, stderr), stderr)
}

// parseUIDL parses the arguments. done is true when there is nothing to
// run: help was asked for (code 0) or the arguments are wrong (code 2).
func parseUIDL(args []string, stdout, stderr io.Writer) (run uidlRun, code int, done bool) {
	if len(args) == 0 {
		fmt.Fprint(stderr, uidlUsage)
		return nil, exitUsage, true
	}
	var err error
	switch args[0] {
	case "import":
		run, err = parseUIDLImport(args[1:])
	case "show":
		run, err = parseUIDLShow(args[1:])
	case "verify":
		run, err = parseUIDLVerify(args[1:])
	case "help", "-h", "-help", "--help":
		err = flag.ErrHelp
	default:
		err = uidlUsageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, uidlUsage)
		return nil, exitOK, true
	}
	if err != nil {
		return nil, uidlResult(err, stderr), true
	}
	return run, 0, false
}

// uidlResult prints err and returns the exit status.
func uidlResult(err error, stderr io.Writer) int {
	var ue uidlUsageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "popgate uidl: %s\n%s", ue.msg, uidlUsage)
		return exitUsage
	case errors.Is(err, errDifferences), errors.Is(err, errIncomplete):
		return exitFailure
	}
	fmt.Fprintf(stderr, "popgate uidl: %v\n", err)
	return exitFailure
}

type uidlUsageError struct{ msg string }

func (e uidlUsageError) Error() string { return e.msg }

var errDifferences = errors.New("map and server differ")

// parseFlags parses fs's flags anywhere in args and returns the other
// arguments. A flag error other than a request for help is a usage error
// naming what the command needs.
func parseFlags(fs *flag.FlagSet, args []string, needs string, nargs func(int) bool) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, err
	case err != nil:
		return nil, uidlUsageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	case !nargs(len(pos)):
		return nil, uidlUsageError{needs}
	}
	return pos, nil
}

func parseUIDLImport(args []string) (uidlRun, error) {
	fs := newFlags("import")
	scheme := fs.String("scheme", "auto", "")
	user := fs.String("user", "", "")
	quiet := fs.Bool("quiet", false, "")
	replace := fs.Bool("replace", false, "")
	pos, err := parseFlags(fs, args, "import needs one PATH", func(n int) bool { return n == 1 })
	if err != nil {
		return nil, err
	}
	sc, err := uidl.ParseLegacyScheme(*scheme)
	if err != nil {
		return nil, uidlUsageError{err.Error()}
	}
	return func(ctx context.Context, env uidlEnv, stdout, stderr io.Writer) error {
		st, err := env.openStore()
		if err != nil {
			return err
		}
		defer st.Close()
		o := migrate.ImportOptions{Path: pos[0], User: *user, Scheme: sc, Store: st, Progress: stderr, Replace: *replace}
		if *quiet {
			o.Progress = nil
		}
		sum, err := migrate.Import(ctx, o)
		for _, p := range sum.Problems {
			fmt.Fprintf(stdout, "problem: %s\n", p)
		}
		if n := sum.ProblemCount - len(sum.Problems); n > 0 {
			fmt.Fprintf(stdout, "problem: ... and %d more\n", n)
		}
		for _, d := range sum.Disagreements {
			fmt.Fprintf(stdout, "disagrees: %s\n", d)
		}
		fmt.Fprintln(stdout, sum)
		if err == nil && (sum.ProblemCount > 0 || (sum.Conflicts > 0 && sum.Kept)) {
			// The summary says what; the status tells a script to look.
			err = errIncomplete
		}
		return err
	}, nil
}

// errIncomplete ends an import that could not read or map every message,
// or left users whose map disagrees with their spool.
var errIncomplete = errors.New("import incomplete")

func parseUIDLShow(args []string) (uidlRun, error) {
	pos, err := parseFlags(newFlags("show"), args, "show needs a USER", func(n int) bool { return n >= 1 })
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, env uidlEnv, stdout, _ io.Writer) error {
		st, err := env.openStore()
		if err != nil {
			return err
		}
		defer st.Close()
		return migrate.Show(ctx, stdout, st, pos[0], pos[1:]...)
	}, nil
}

func parseUIDLVerify(args []string) (uidlRun, error) {
	fs := newFlags("verify")
	backend := fs.String("backend", "", "")
	server := fs.String("server", "", "")
	fromStdin := fs.Bool("password-stdin", false, "")
	pos, err := parseFlags(fs, args, "verify needs one USER", func(n int) bool { return n == 1 })
	if err != nil {
		return nil, err
	}
	var serverOpener pop3.Opener
	if *server != "" {
		u, err := url.Parse(*server)
		if err != nil {
			return nil, uidlUsageError{fmt.Sprintf("-server: %v", err)}
		}
		o, err := upstream.FromURL("legacy", u)
		if err != nil {
			return nil, uidlUsageError{fmt.Sprintf("-server: %v", err)}
		}
		// One login: a pool would only open a connection nobody uses.
		o.PoolSize = 0
		serverOpener = upstream.New(o)
	}
	return func(ctx context.Context, env uidlEnv, stdout, _ io.Writer) error {
		user, op := pos[0], serverOpener
		if op == nil {
			name := *backend
			if name == "" {
				name = env.legacyBackend
			}
			if op = env.backends[name]; op == nil {
				return uidlUsageError{fmt.Sprintf("no backend %q; give -backend or -server", name)}
			}
		}
		pass, err := uidlPassword(env, *fromStdin)
		if err != nil {
			return err
		}
		st, err := env.openStore()
		if err != nil {
			return err
		}
		defer st.Close()
		r, err := migrate.Verify(ctx, migrate.VerifyOptions{Store: st, User: user, Password: pass, Legacy: op})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", user, r)
		if !r.OK() {
			return errDifferences
		}
		return nil
	}, nil
}

func uidlPassword(env uidlEnv, fromStdin bool) (string, error) {
	if fromStdin {
		if env.stdin == nil {
			return "", errors.New("no stdin")
		}
		line, err := bufio.NewReader(env.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if env.getenv != nil {
		if p := env.getenv(uidlPasswordVar); p != "" {
			return p, nil
		}
	}
	return "", uidlUsageError{"no password: set " + uidlPasswordVar + " or use -password-stdin"}
}
