package app

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/backend/lock"
)

// fakeLeases is the shared store's leases as another instance left them.
type fakeLeases struct {
	held map[string]string
	err  error
}

func (f fakeLeases) Holder(ctx context.Context, key string) (string, time.Duration, error) {
	if h, ok := f.held[key]; ok {
		return h, 20 * time.Second, f.err
	}
	return "", 0, f.err
}

type fakeMaildrops map[string]backend.MaildropState

func (f fakeMaildrops) Maildrop(user string) (backend.MaildropState, error) {
	m, ok := f[user]
	if !ok {
		return m, errors.New("no such maildrop")
	}
	return m, nil
}

func TestDoctorLocks(t *testing.T) {
	native := fakeMaildrops{
		"ann": {Kind: backend.KindMbox, Path: "/var/mail/ann", Spool: &lock.SpoolState{
			Dotlock: true, DotlockPid: 4242, DotlockStale: true,
			FileLocks: []lock.FileLock{{Kind: "POSIX", Write: true, Pid: 77}, {Kind: "OFDLCK"}},
		}, RepairPending: true},
		"bea": {Kind: backend.KindMbox, Path: "/var/mail/bea", Spool: &lock.SpoolState{FileLocksUnknown: "the spool does not exist"}},
	}
	maildirs := fakeMaildrops{"ann": {Kind: backend.KindMaildir, Path: "/home/ann/Maildir"}}
	d := &doctor{maildrops: map[string]maildropInspector{"native": native, "md": maildirs},
		leases: fakeLeases{held: map[string]string{"/var/mail/ann": "mx2 pid 9 session s1"}}}
	report := func(d *doctor, backendName, user string) string {
		r := doctorReport{User: user, Route: doctorRoute{Backend: backendName}}
		r.Maildrop, r.Lease = d.lockState(context.Background(), backendName, user)
		var b bytes.Buffer
		printDoctor(&b, r)
		return b.String()
	}
	for _, c := range []struct {
		backend, user string
		want, not     []string
	}{
		{"native", "ann", []string{
			"lease      held by mx2 pid 9 session s1 for 20s more",
			"spool      /var/mail/ann: dotlock of pid 4242", "not running: stale",
			"POSIX write lock held by pid 77", "OFDLCK read lock held by a process the kernel does not name",
			"REPAIR PENDING",
		}, nil},
		{"native", "bea", []string{"lease      free", "spool      /var/mail/bea: no dotlock", "kernel locks unknown: the spool does not exist"},
			[]string{"REPAIR"}},
		{"md", "ann", []string{"spool      /home/ann/Maildir is a Maildir: nothing to lock"}, []string{"dotlock"}},
		{"legacy", "ann", nil, []string{"lease ", "spool "}},
	} {
		out := report(d, c.backend, c.user)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s on %s: output lacks %q:\n%s", c.user, c.backend, w, out)
			}
		}
		for _, n := range c.not {
			if strings.Contains(out, n) {
				t.Errorf("%s on %s: output has %q:\n%s", c.user, c.backend, n, out)
			}
		}
	}

	// Without a shared store there is no lease; with one that is down,
	// doctor says so and still shows the spool.
	d.leases = nil
	if out := report(d, "native", "ann"); strings.Contains(out, "lease ") || !strings.Contains(out, "spool ") {
		t.Errorf("without leases:\n%s", out)
	}
	d.leases = fakeLeases{err: errors.New("connection refused")}
	if out := report(d, "native", "bea"); !strings.Contains(out, "lease      cannot be read: connection refused") {
		t.Errorf("store down:\n%s", out)
	}
}
