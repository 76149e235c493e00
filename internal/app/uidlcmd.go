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

	"github.com/popgate/popgate/migrate"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/uidl"
	"github.com/popgate/popgate/upstream"
)

// uidlPasswordVar holds the user's password for "popgate uidl verify".
const uidlPasswordVar = "POPGATE_UIDL_PASSWORD"

const uidlUsage = `usage:
  popgate uidl import [-scheme auto|xuidl|qpopper-xuidl|qpopper-hex|qpopper-base80|popa3d] [-user NAME] [-quiet] [-replace] PATH
  popgate uidl show USER [BACKEND...]
  popgate uidl verify [-backend NAME | -server pop3://HOST:PORT] [-password-stdin] USER
import never overwrites recorded entries that disagree with a spool (learned
from the legacy server, or imported before): it reports them and leaves the user
as it was, unless -replace. It exits 1 when messages could not be read or mapped,
or users were left so.
verify reads the user's password from ` + uidlPasswordVar + ` or, with -password-stdin, from the first line of stdin.
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

// uidlCommand runs "popgate uidl import|show|verify".
func uidlCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, _, ok := loadConfig(environ, stderr)
	if !ok {
		return exitUsage
	}
	openers, closer, err := openBackends(cfg, nil)
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
	return runUIDL(ctx, args, env, stdout, stderr)
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

// runUIDL runs "popgate uidl ARGS..." (args without "popgate uidl") and
// returns the exit status: 0 success, 1 failure (or a verify that found
// differences), 2 usage errors.
func runUIDL(ctx context.Context, args []string, env uidlEnv, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, uidlUsage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "import":
		err = uidlImport(ctx, args[1:], env, stdout, stderr)
	case "show":
		err = uidlShow(ctx, args[1:], env, stdout)
	case "verify":
		err = uidlVerify(ctx, args[1:], env, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, uidlUsage)
		return exitOK
	default:
		err = uidlUsageError{fmt.Sprintf("unknown command %q", args[0])}
	}
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

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func uidlImport(ctx context.Context, args []string, env uidlEnv, stdout, stderr io.Writer) error {
	fs := newFlags("import")
	scheme := fs.String("scheme", "auto", "")
	user := fs.String("user", "", "")
	quiet := fs.Bool("quiet", false, "")
	replace := fs.Bool("replace", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return uidlUsageError{"import needs one PATH"}
	}
	sc, err := uidl.ParseLegacyScheme(*scheme)
	if err != nil {
		return uidlUsageError{err.Error()}
	}
	st, err := env.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	o := migrate.ImportOptions{Path: fs.Arg(0), User: *user, Scheme: sc, Store: st, Progress: stderr, Replace: *replace}
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
}

// errIncomplete ends an import that could not read or map every message,
// or left users whose map disagrees with their spool.
var errIncomplete = errors.New("import incomplete")

func uidlShow(ctx context.Context, args []string, env uidlEnv, stdout io.Writer) error {
	if len(args) < 1 {
		return uidlUsageError{"show needs a USER"}
	}
	st, err := env.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	return migrate.Show(ctx, stdout, st, args[0], args[1:]...)
}

func uidlVerify(ctx context.Context, args []string, env uidlEnv, stdout io.Writer) error {
	fs := newFlags("verify")
	backend := fs.String("backend", env.legacyBackend, "")
	server := fs.String("server", "", "")
	fromStdin := fs.Bool("password-stdin", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return uidlUsageError{"verify needs one USER"}
	}
	user := fs.Arg(0)
	var op pop3.Opener
	if *server != "" {
		u, err := url.Parse(*server)
		if err != nil {
			return uidlUsageError{fmt.Sprintf("-server: %v", err)}
		}
		o, err := upstream.FromURL("legacy", u)
		if err != nil {
			return uidlUsageError{fmt.Sprintf("-server: %v", err)}
		}
		op = upstream.New(o)
	} else if op = env.backends[*backend]; op == nil {
		return uidlUsageError{fmt.Sprintf("no backend %q; give -backend or -server", *backend)}
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
