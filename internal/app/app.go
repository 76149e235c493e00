// Package app is the popgate program: the subcommands, and for "serve" the
// wiring of configuration, backends, decorators, listeners, drain, reload
// and the admin endpoints around a proxy.Server. cmd/popgate only calls Run;
// tests start the same wiring in process with RunWithHooks.
package app

import (
	"context"
	"fmt"
	"io"

	"github.com/popgate/popgate/store"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the server could not start or stopped on an error
	exitUsage   = 2 // bad arguments or configuration
)

// Run is the whole program: args as os.Args, environ as os.Environ(). It
// returns the exit code. A server stops when ctx is done.
func Run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	return RunWithHooks(ctx, args, environ, stdout, stderr, Hooks{})
}

// Hooks let a caller in the same process watch and steer a running server.
type Hooks struct {
	// Listening is called with the bound addresses once serving starts.
	Listening func(addrs Addrs)
	// Reload, when set, replaces SIGHUP as the routes reload trigger.
	Reload <-chan struct{}
	// UIDLStore is called with the UIDL map once it is open, for callers
	// that read or seed it while the server runs (the file is locked
	// against a second opener).
	UIDLStore func(store.UIDLStore)
}

// RunWithHooks is Run with hooks into the server it starts.
func RunWithHooks(ctx context.Context, args, environ []string, stdout, stderr io.Writer, h Hooks) int {
	cmd, rest := "serve", []string(nil)
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
	}
	switch cmd {
	case "version", "-version", "--version", "-V":
		fmt.Fprintln(stdout, "popgate", version())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "uidl":
		// uidl parses its own flags, and has its own help.
		return uidlCommand(ctx, rest, environ, stdout, stderr)
	case "doctor":
		// So does doctor (-json).
		return doctorCommand(ctx, rest, environ, stdout, stderr)
	}
	cu, known := commandUsage[cmd]
	switch {
	case !known && len(cmd) > 1 && cmd[0] == '-':
		return usageError(stderr, fmt.Sprintf("unknown flag %s", cmd))
	case !known:
		return usageError(stderr, fmt.Sprintf("unknown command %q", cmd))
	case helpRequested(rest):
		fmt.Fprint(stdout, cu)
		return exitOK
	}
	if f, ok := unknownFlag(rest); ok {
		return commandError(stderr, cmd, "unknown flag "+f)
	}
	if rest = dropDashes(rest); !commandArgsOK(cmd, rest) {
		return commandError(stderr, cmd, "wrong arguments")
	}
	switch cmd {
	case "serve":
		return serve(ctx, environ, stdout, stderr, h)
	case "check-config":
		return checkConfig(environ, stdout, stderr)
	case "routes":
		return routesCheck(rest[1], environ, stdout, stderr)
	case "throttle":
		return throttleCommand(ctx, rest[0], rest[1], environ, stdout, stderr)
	case "reload":
		return reloadCommand(ctx, environ, stdout, stderr)
	default: // health
		return healthCheck(rest, environ, stdout, stderr)
	}
}

// commandUsage is each command's help (uidl has its own).
var commandUsage = map[string]string{
	"serve":        "usage: popgate [serve]\nserve POP3 until SIGTERM or SIGINT; SIGHUP reloads. See the README for the POPGATE_* variables.\n",
	"check-config": "usage: popgate check-config\nprint the effective configuration, secrets redacted, and check it as serve does (exit 0 valid, 2 not).\n",
	"routes":       "usage: popgate routes check FILE\ncheck a routes file against the configured backends (exit 0 valid, 2 not).\n",
	"throttle":     "usage: popgate throttle show|reset USER\nprint a user's throttle level, or forget it and the user's failed logins (in Redis directly; with bbolt through the running server's admin listener).\n",
	"reload":       "usage: popgate reload\nask the running server to reload (TLS key pair, users file, throttle settings, routes) and wait: exit 0 if it did, 1 if not.\n",
	"health":       "usage: popgate health [ready]\nask the running server's admin endpoint whether it is alive (or ready): exit 0 if so, 1 if not.\n",
}

// commandArgsOK checks the arguments of the commands that take no flags.
func commandArgsOK(cmd string, args []string) bool {
	switch cmd {
	case "routes":
		return len(args) == 2 && args[0] == "check"
	case "throttle":
		return len(args) == 2 && (args[0] == "show" || args[0] == "reset")
	case "health":
		return len(args) == 0 || len(args) == 1 && args[0] == "ready"
	}
	return len(args) == 0
}

// dropDashes removes a "--" that ends the (here empty) flags.
func dropDashes(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

func commandError(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "popgate %s: %s\n%s", cmd, msg, commandUsage[cmd])
	return exitUsage
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "popgate: %s\n\n%s", msg, usage)
	return exitUsage
}

const usage = `Usage:
  popgate [serve]            serve POP3 (the default)
  popgate check-config       print the effective configuration, secrets
                             redacted, and check it (backends, routes, TLS)
  popgate routes check FILE  check a routes file against the configured backends
  popgate throttle show USER print a user's throttle level
  popgate throttle reset USER
                             forget a user's throttle level and failed logins
                             (in Redis directly; with bbolt through the running
                             server's admin listener)
  popgate doctor [-json] USER
                             explain a user's state (route, backend health,
                             last sessions, UIDLs, throttling, poison
                             messages), from the running server's admin listener
  popgate uidl import [-scheme S] [-user NAME] PATH
                             seed the UIDL map from a legacy mbox spool (a file
                             or a directory of them, one file per user)
  popgate uidl show USER     print a user's UIDL map
  popgate uidl verify USER   compare the map with what the legacy server reports
                             (password in POPGATE_UIDL_PASSWORD or -password-stdin)
  popgate reload             ask the running server to reload and wait for the
                             outcome (exit 1 if it failed); for ExecReload
  popgate health [ready]     ask the running server's admin endpoint whether
                             it is alive (or ready); for container health checks
  popgate version            print the version (also --version)
  popgate help               print this help (also -h, --help)

Every command takes -h or --help. Flags may come anywhere among the
arguments; "--" ends them.

popgate is configured by POPGATE_* environment variables; with none it
serves its native backend on 127.0.0.1:1110 from ./popgate-data.
`
