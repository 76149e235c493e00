// Command popgate is a protocol-aware POP3 reverse proxy. See the README
// for its configuration (POPGATE_* environment variables) and subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the server could not start or stopped on an error
	exitUsage   = 2 // bad arguments or configuration
)

// defaultGCPercent is the collector's target (GOGC) unless the environment
// sets one. A relay's live heap is small and mostly long-lived idle sessions,
// so collecting at 1.5 rather than 2 times it costs little CPU and keeps
// about a quarter less memory resident per idle session.
const defaultGCPercent = 50

// tuneGC applies defaultGCPercent unless GOGC is set.
func tuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

func main() {
	tuneGC(os.LookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program: args as os.Args, environ as os.Environ(). The
// server stops when ctx is done.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, environ, stdout, stderr, hooks{})
}

// hooks let tests watch and steer a running server.
type hooks struct {
	// listening is called with the bound addresses once serving starts.
	listening func(addrs boundAddrs)
	// reload, when set, replaces SIGHUP as the routes reload trigger.
	reload <-chan struct{}
}

func runWith(ctx context.Context, args, environ []string, stdout, stderr io.Writer, h hooks) int {
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
		if len(rest) != 2 || rest[0] != "show" {
			return usageError(stderr, "usage: popgate throttle show USER")
		}
		return throttleShow(ctx, rest[1], environ, stdout, stderr)
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
  popgate throttle show USER print a user's throttle level, from the running
                             server's admin listener
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
