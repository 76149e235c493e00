package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// doctorCommand runs "popgate doctor [-json] USER": it asks the running
// server's admin listener what it knows about USER and prints it.
func doctorCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	const usage = "usage: popgate doctor [-json] USER\nexplain a user's state (route, backend health, last sessions, UIDLs, throttling, poison messages), from the running server's admin listener.\n"
	fs := newFlags("doctor")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	rest, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "popgate doctor: %v\n%s", err, usage)
		return exitUsage
	case len(rest) != 1:
		fmt.Fprintf(stderr, "popgate doctor: wrong arguments\n%s", usage)
		return exitUsage
	}
	body, code := askAdmin(ctx, http.MethodGet, "/doctor", url.Values{"user": {rest[0]}}.Encode(), environ, stderr)
	if code != exitOK {
		return code
	}
	if *asJSON {
		stdout.Write(body)
		return exitOK
	}
	var r doctorReport
	if err := json.Unmarshal(body, &r); err != nil {
		fmt.Fprintf(stderr, "popgate: the server's answer: %v\n", err)
		return exitFailure
	}
	printDoctor(stdout, r)
	return exitOK
}

// printDoctor writes r for people, most telling first.
func printDoctor(w io.Writer, r doctorReport) {
	fmt.Fprintf(w, "user %s\n", r.User)
	fmt.Fprintf(w, "routed to  %s (%s): %s\n", r.Route.Backend, r.Route.Kind, r.Route.Why)
	switch {
	case r.Health == nil:
		fmt.Fprintln(w, "health     no health check for this backend")
	case r.Health.Checked.IsZero():
		fmt.Fprintln(w, "health     not checked yet")
	case r.Health.Healthy:
		fmt.Fprintf(w, "health     up (checked %s)\n", r.Health.Checked.Format(time.RFC3339))
	default:
		fmt.Fprintf(w, "health     DOWN since the check at %s: %s\n", r.Health.Checked.Format(time.RFC3339), r.Health.Error)
	}

	if r.OpenMaildrops == 0 {
		fmt.Fprintln(w, "maildrop   not open through this server now")
	} else {
		fmt.Fprintf(w, "maildrop   open in %d session(s) through this server now: a native maildrop is locked, another login gets [IN-USE]\n", r.OpenMaildrops)
	}
	printLocks(w, r)
	if len(r.Sessions) == 0 {
		fmt.Fprintln(w, "sessions   none since this server started")
	} else {
		fmt.Fprintln(w, "sessions   (newest first)")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  start\tclient\tbackend\tauth\tresult\tmsgs\tretr\tdeleted\twaited\tnote")
		for _, s := range r.Sessions {
			note := s.Error
			if s.BrokenMsg > 0 {
				note = fmt.Sprintf("broke off message %d; %s", s.BrokenMsg, note)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", s.Start.Format(time.RFC3339), s.Client, s.Backend,
				s.Auth, s.Result, s.Msgs, s.RetrMsgs, s.DeletedMsgs, time.Duration(s.DelayMS)*time.Millisecond, note)
		}
		tw.Flush()
	}

	u := r.UIDL
	switch {
	case u.LegacyPresent == 0 && u.LegacyGone == 0:
		fmt.Fprintln(w, "uidl       nothing learned or imported from a legacy server")
	default:
		fmt.Fprintf(w, "uidl       legacy maildrop: %d messages known, %d with a fingerprint (ready to move), %d gone\n",
			u.LegacyPresent, u.LegacyFingerprints, u.LegacyGone)
		imported := "no import covered them"
		if u.LastImport != nil {
			imported = "last import " + u.LastImport.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "           %d learned from legacy sessions, %d imported (%s)\n",
			u.LegacyPresent-u.LegacyImported, u.LegacyImported, imported)
	}
	if u.Mapped+u.Unmapped > 0 {
		fmt.Fprintf(w, "           on %s: %d messages under their legacy UIDL, %d under a new one\n", r.Route.Backend, u.Mapped, u.Unmapped)
	}
	if len(u.Conflicts) > 0 {
		fmt.Fprintf(w, "           CONFLICT: legacy UIDLs shown for several messages: %s\n", strings.Join(u.Conflicts, " "))
	}

	t := r.Throttle
	switch {
	case !t.Enabled:
		fmt.Fprintln(w, "throttle   off")
	case !t.Known:
		fmt.Fprintln(w, "throttle   no login seen by this server")
	default:
		fmt.Fprintf(w, "throttle   level %d now (was %d at the last login, %s); maildrop %d messages, %d octets, polled every %s; next login delayed %s\n",
			t.Level, t.LastLevel, t.LastLogin.Format(time.RFC3339), t.Msgs, t.Bytes,
			time.Duration(t.IntervalMS)*time.Millisecond, time.Duration(t.LoginDelayMS)*time.Millisecond)
	}
	if t.Enabled && t.Level > 0 {
		// A level above 0 takes both (throttle.Config.level).
		fmt.Fprintln(w, "           why: the maildrop is over the soft limits (POPGATE_THROTTLE_SOFT_*) and it is polled more often than POPGATE_THROTTLE_MIN_POLL_INTERVAL")
	}
	fmt.Fprintf(w, "auth       %d failed logins counted\n", r.AuthFailures)

	p := r.Poison
	if p.Streak.UIDL != "" {
		fmt.Fprintf(w, "transfers  the last %d sessions broke off message %d (UIDL %s, %d octets)\n", p.Streak.Breaks, p.Streak.Num, p.Streak.UIDL, p.Streak.Size)
	}
	if len(p.Poison) == 0 {
		fmt.Fprintln(w, "poison     none")
	}
	for _, m := range p.Poison {
		fmt.Fprintf(w, "poison     message %d, UIDL %s, %d octets, Message-ID %s, Subject %q: %d broken transfers since %s\n",
			m.Num, m.UIDL, m.Size, m.MessageID, m.Subject, m.Breaks, m.First.Format(time.RFC3339))
	}
}

// printLocks writes what holds the user's native maildrop besides this
// server's sessions.
func printLocks(w io.Writer, r doctorReport) {
	switch l := r.Lease; {
	case l == nil:
	case l.Error != "":
		fmt.Fprintf(w, "lease      cannot be read: %s\n", l.Error)
	case l.Holder == "":
		fmt.Fprintln(w, "lease      free: no instance holds a session on this maildrop")
	default:
		fmt.Fprintf(w, "lease      held by %s for %s more: other logins on every instance get [IN-USE]\n",
			l.Holder, time.Duration(l.ExpiresInMS)*time.Millisecond)
	}
	m := r.Maildrop
	if m == nil {
		return
	}
	if m.Spool == nil {
		fmt.Fprintf(w, "spool      %s is a Maildir: nothing to lock\n", m.Path)
		return
	}
	s := m.Spool
	switch {
	case !s.Dotlock:
		fmt.Fprintf(w, "spool      %s: no dotlock\n", m.Path)
	case s.DotlockPid == 0:
		fmt.Fprintf(w, "spool      %s: dotlock since %s names no pid (stale: %v)\n", m.Path, s.DotlockSince.Format(time.RFC3339), s.DotlockStale)
	case s.DotlockStale:
		fmt.Fprintf(w, "spool      %s: dotlock of pid %d since %s, which is not running: stale, the next session breaks it\n",
			m.Path, s.DotlockPid, s.DotlockSince.Format(time.RFC3339))
	default:
		fmt.Fprintf(w, "spool      %s: dotlock held by running pid %d since %s\n", m.Path, s.DotlockPid, s.DotlockSince.Format(time.RFC3339))
	}
	switch {
	case s.FileLocksUnknown != "":
		fmt.Fprintf(w, "           kernel locks unknown: %s\n", s.FileLocksUnknown)
	case len(s.FileLocks) == 0:
		fmt.Fprintln(w, "           no fcntl or flock lock on it")
	}
	for _, l := range s.FileLocks {
		mode, by := "read", "a process the kernel does not name"
		if l.Write {
			mode = "write"
		}
		if l.Pid > 0 {
			by = fmt.Sprintf("pid %d", l.Pid)
		}
		fmt.Fprintf(w, "           %s %s lock held by %s\n", l.Kind, mode, by)
	}
	if m.RepairPending {
		fmt.Fprintln(w, "           REPAIR PENDING: a rewrite was interrupted (its journal is there); the next session repairs the spool first")
	}
}
