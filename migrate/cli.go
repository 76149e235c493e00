package migrate

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

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/bolt"
	"github.com/popgate/popgate/uidl"
	"github.com/popgate/popgate/upstream"
)

// Env is what "popgate uidl" gets from the binary's configuration.
type Env struct {
	// DataDir holds the store (bolt.FileName) when Store is nil.
	DataDir string
	// Store, when not nil, is used instead and not closed.
	Store store.UIDLStore
	// Backends are the configured openers by name, for verify -backend;
	// LegacyBackend is verify's default.
	Backends      map[string]pop3.Opener
	LegacyBackend string
	// Getenv reads PasswordVar; Stdin gives the password with
	// -password-stdin.
	Getenv func(string) string
	Stdin  io.Reader
}

// PasswordVar holds the user's password for "popgate uidl verify".
const PasswordVar = "POPGATE_UIDL_PASSWORD"

const usage = `usage:
  popgate uidl import [-scheme auto|xuidl|qpopper-xuidl|qpopper-hex|qpopper-base80|popa3d] [-user NAME] [-quiet] PATH
  popgate uidl show USER [BACKEND...]
  popgate uidl verify [-backend NAME | -server pop3://HOST:PORT] [-password-stdin] USER
verify reads the user's password from ` + PasswordVar + ` or, with -password-stdin, from the first line of stdin.
`

// Main runs "popgate uidl ARGS..." (args without "popgate uidl") and returns
// the exit status: 0 success, 1 failure (or a verify that found
// differences), 2 usage errors.
func Main(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "import":
		err = runImport(ctx, args[1:], env, stdout, stderr)
	case "show":
		err = runShow(ctx, args[1:], env, stdout)
	case "verify":
		err = runVerify(ctx, args[1:], env, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "popgate uidl: %s\n%s", ue.msg, usage)
		return 2
	case errors.Is(err, errDifferences):
		return 1
	}
	fmt.Fprintf(stderr, "popgate uidl: %v\n", err)
	return 1
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

var errDifferences = errors.New("map and server differ")

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func openStore(env Env) (store.UIDLStore, func(), error) {
	if env.Store != nil {
		return env.Store, func() {}, nil
	}
	dir := env.DataDir
	if dir == "" {
		return nil, nil, errors.New("no data directory (POPGATE_DATA_DIR)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	st, err := bolt.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}

func runImport(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) error {
	fs := newFlags("import")
	scheme := fs.String("scheme", "auto", "")
	user := fs.String("user", "", "")
	quiet := fs.Bool("quiet", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return usageError{"import needs one PATH"}
	}
	sc, err := uidl.ParseLegacyScheme(*scheme)
	if err != nil {
		return usageError{err.Error()}
	}
	st, closeStore, err := openStore(env)
	if err != nil {
		return err
	}
	defer closeStore()
	o := ImportOptions{Path: fs.Arg(0), User: *user, Scheme: sc, Store: st, Progress: stderr}
	if *quiet {
		o.Progress = nil
	}
	sum, err := Import(ctx, o)
	for _, p := range sum.Problems {
		fmt.Fprintf(stdout, "problem: %s\n", p)
	}
	if n := sum.ProblemCount - len(sum.Problems); n > 0 {
		fmt.Fprintf(stdout, "problem: ... and %d more\n", n)
	}
	fmt.Fprintln(stdout, sum)
	return err
}

func runShow(ctx context.Context, args []string, env Env, stdout io.Writer) error {
	if len(args) < 1 {
		return usageError{"show needs a USER"}
	}
	st, closeStore, err := openStore(env)
	if err != nil {
		return err
	}
	defer closeStore()
	return Show(ctx, stdout, st, args[0], args[1:]...)
}

func runVerify(ctx context.Context, args []string, env Env, stdout io.Writer) error {
	fs := newFlags("verify")
	backend := fs.String("backend", env.LegacyBackend, "")
	server := fs.String("server", "", "")
	fromStdin := fs.Bool("password-stdin", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return usageError{"verify needs one USER"}
	}
	user := fs.Arg(0)
	var op pop3.Opener
	if *server != "" {
		u, err := url.Parse(*server)
		if err != nil {
			return usageError{fmt.Sprintf("-server: %v", err)}
		}
		o, err := upstream.FromURL("legacy", u)
		if err != nil {
			return usageError{fmt.Sprintf("-server: %v", err)}
		}
		op = upstream.New(o)
	} else if op = env.Backends[*backend]; op == nil {
		return usageError{fmt.Sprintf("no backend %q; give -backend or -server", *backend)}
	}
	pass, err := password(env, *fromStdin)
	if err != nil {
		return err
	}
	st, closeStore, err := openStore(env)
	if err != nil {
		return err
	}
	defer closeStore()
	r, err := Verify(ctx, VerifyOptions{Store: st, User: user, Password: pass, Legacy: op})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", user, r)
	if !r.OK() {
		return errDifferences
	}
	return nil
}

func password(env Env, fromStdin bool) (string, error) {
	if fromStdin {
		if env.Stdin == nil {
			return "", errors.New("no stdin")
		}
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if env.Getenv != nil {
		if p := env.Getenv(PasswordVar); p != "" {
			return p, nil
		}
	}
	return "", usageError{"no password: set " + PasswordVar + " or use -password-stdin"}
}
