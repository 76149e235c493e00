// Command popbench puts load on a POP3 server: many concurrent clients, each
// running a script of commands, for a duration or a number of sessions. It
// also writes mailbox fixtures for the servers under test.
//
//	popbench -addr 127.0.0.1:1110 -user demo -pass demo -clients 8 -duration 10s -script stat,uidl,retr:all
//	popbench -addr 127.0.0.1:1110 -user u%d -nusers 1000 -pass p -clients 1000 -duration 60s -script idle -ready /tmp/held
//	popbench -addr 127.0.0.1:995 -tls -tls-resume -user demo -pass demo -clients 8 -duration 10s -script retr:all
//	popbench gen-mbox -count 20 -size 4096 -user alice /tmp/alice.mbox
//	popbench gen-maildir -count 8 -size 262144 -user bob /tmp/bob/Maildir
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/popgate/popgate/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && strings.HasPrefix(args[0], "gen-") {
		if err := generate(args[0], args[1:], stderr); err != nil {
			fmt.Fprintln(stderr, "popbench:", err)
			return 2
		}
		return 0
	}
	fs := flag.NewFlagSet("popbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o        loadgen.Options
		user     = fs.String("user", "", "user name (or a pattern with %d, numbered 1..-nusers)")
		pass     = fs.String("pass", "", "password")
		nusers   = fs.Int("nusers", 1, "number of users when -user contains %d")
		users    = fs.String("users", "", "file of user:password lines")
		script   = fs.String("script", "stat,uidl,retr:all", "commands after login: stat, list, uidl, noop, retr[:N|all], top[:N[:L]], dele[:N|all], idle")
		asJSON   = fs.Bool("json", false, "print the report as JSON")
		duration = fs.Duration("duration", 0, "run for this long")
		ready    = fs.String("ready", "", "with -script idle: create this file once every client holds an idle session")
	)
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:1110", "POP3 server address")
	fs.BoolVar(&o.TLS, "tls", false, "implicit TLS (certificates are not verified)")
	fs.BoolVar(&o.QuickAck, "quickack", false, "acknowledge every segment at once (TCP_QUICKACK after each read; Linux)")
	fs.BoolVar(&o.TLSResume, "tls-resume", false, "with -tls: resume TLS sessions (session tickets), as a client polling again does")
	fs.IntVar(&o.Clients, "clients", 1, "concurrent clients")
	fs.IntVar(&o.Sessions, "sessions", 0, "stop after this many sessions")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "dial and per-response timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.TLSResume && !o.TLS {
		fmt.Fprintln(stderr, "popbench: -tls-resume needs -tls")
		return 2
	}
	o.Duration = *duration
	if o.Duration == 0 && o.Sessions == 0 {
		o.Duration = 10 * time.Second
	}
	var err error
	if o.Script, err = loadgen.ParseScript(*script); err != nil {
		fmt.Fprintln(stderr, "popbench:", err)
		return 2
	}
	if o.Users, err = credentials(*users, *user, *pass, *nusers); err != nil {
		fmt.Fprintln(stderr, "popbench:", err)
		return 2
	}
	if *ready != "" {
		o.Holding = func() {
			if err := os.WriteFile(*ready, []byte("holding\n"), 0o644); err != nil {
				fmt.Fprintln(stderr, "popbench:", err)
			}
		}
	}
	rep, err := loadgen.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "popbench:", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		rep.WriteText(stdout)
	}
	if rep.OK == 0 {
		return 1
	}
	return 0
}

func credentials(file, user, pass string, n int) ([]loadgen.Credential, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var creds []loadgen.Credential
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			t := strings.TrimSpace(sc.Text())
			if t == "" || t[0] == '#' {
				continue
			}
			u, p, ok := strings.Cut(t, ":")
			if !ok {
				return nil, fmt.Errorf("%s:%d: want user:password", file, line)
			}
			creds = append(creds, loadgen.Credential{User: u, Password: p})
		}
		if len(creds) == 0 {
			return nil, fmt.Errorf("%s: no users", file)
		}
		return creds, sc.Err()
	}
	if user == "" {
		return nil, errors.New("give -user and -pass, or -users FILE")
	}
	if !strings.Contains(user, "%d") {
		return []loadgen.Credential{{User: user, Password: pass}}, nil
	}
	creds := make([]loadgen.Credential, n)
	for i := range creds {
		creds[i] = loadgen.Credential{User: fmt.Sprintf(user, i+1), Password: pass}
	}
	return creds, nil
}

func generate(cmd string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("popbench "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("count", 20, "number of messages")
	size := fs.String("size", "4096", "body size in bytes, or a range MIN-MAX")
	user := fs.String("user", "user", "recipient user name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: popbench %s [-count N] [-size S|MIN-MAX] [-user U] PATH", cmd)
	}
	sizes, err := loadgen.ParseSizes(*size)
	if err != nil {
		return err
	}
	switch cmd {
	case "gen-mbox":
		return loadgen.WriteMbox(fs.Arg(0), *user, *count, sizes)
	case "gen-maildir":
		return loadgen.WriteMaildir(fs.Arg(0), *user, *count, sizes)
	}
	return fmt.Errorf("unknown command %q", cmd)
}
