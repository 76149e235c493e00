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
	case "serve":
		if len(rest) != 0 {
			return usageError(stderr, "serve takes no arguments")
		}
		return serve(ctx, environ, stdout, stderr, h)
	case "check-config":
		if len(rest) != 0 {
			return usageError(stderr, "check-config takes no arguments")
		}
		return checkConfig(environ, stdout, stderr)
	case "routes":
		if len(rest) != 2 || rest[0] != "check" {
			return usageError(stderr, "usage: popgate routes check FILE")
		}
		return routesCheck(rest[1], environ, stdout, stderr)
	case "throttle":
		if len(rest) != 2 || (rest[0] != "show" && rest[0] != "reset") {
			return usageError(stderr, "usage: popgate throttle show|reset USER")
		}
		return throttleCommand(ctx, rest[0], rest[1], environ, stdout, stderr)
	case "doctor":
		return doctorCommand(ctx, rest, environ, stdout, stderr)
	case "uidl":
		return uidlCommand(ctx, rest, environ, stdout, stderr)
	case "health":
		return healthCheck(rest, environ, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "popgate", version())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	return usageError(stderr, fmt.Sprintf("unknown command %q", cmd))
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
  popgate health [ready]     ask the running server's admin endpoint whether
                             it is alive (or ready); for container health checks
  popgate version            print the version
  popgate help               print this help

popgate is configured by POPGATE_* environment variables; with none it
serves its native backend on 127.0.0.1:1110 from ./popgate-data.
`
