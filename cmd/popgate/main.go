// Command popgate is a protocol-aware POP3 reverse proxy. See the README
// for its configuration (POPGATE_* environment variables) and subcommands;
// the program itself is package internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/popgate/popgate/internal/app"
)

// buildVersion may be set with -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion = ""

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
	app.Version = buildVersion
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
