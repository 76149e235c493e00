package app

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/health"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/recent"
	"github.com/popgate/popgate/routes"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/throttle"
)

// The recent sessions kept for doctor: a few per user, for the users seen
// last (a session takes a few hundred bytes).
const (
	recentSessions = 5
	recentUsers    = 10000
)

// doctorReport is everything popgate knows about one user, for the
// administrator a user calls (popgate doctor USER).
type doctorReport struct {
	User  string      `json:"user"`
	Route doctorRoute `json:"route"`
	// Health is the backend's last health check; nil for a backend
	// without one (native).
	Health   *health.Status   `json:"health,omitempty"`
	Sessions []recent.Session `json:"sessions"`
	UIDL     doctorUIDL       `json:"uidl"`
	Throttle throttle.Report  `json:"throttle"`
	// AuthFailures are the failed logins against the user still counted.
	AuthFailures int          `json:"auth_failures"`
	Poison       store.Breaks `json:"poison"`
	// OpenMaildrops are the sessions of this server that hold the user's
	// maildrop open now: a native maildrop is locked while one does.
	OpenMaildrops int `json:"open_maildrops"`
	// Maildrop is the native maildrop's lock state (an mbox spool's
	// dotlock, kernel locks and pending repair); nil on a pop3 backend.
	Maildrop *backend.MaildropState `json:"maildrop,omitempty"`
	// Lease is the session lease every instance sharing the store honours;
	// nil without a shared store or on a pop3 backend.
	Lease *doctorLease `json:"lease,omitempty"`
}

// doctorLease is the cluster-wide session lock on a native maildrop.
type doctorLease struct {
	// Holder is "HOST pid N session ID"; empty when the lease is free.
	Holder      string `json:"holder,omitempty"`
	ExpiresInMS int64  `json:"expires_in_ms,omitempty"`
	// Error says why the lease could not be read.
	Error string `json:"error,omitempty"`
}

// leaseHolders reads session leases (store/redis.Leases).
type leaseHolders interface {
	Holder(ctx context.Context, key string) (string, time.Duration, error)
}

// maildropInspector is a native backend (backend.Backend).
type maildropInspector interface {
	Maildrop(user string) (backend.MaildropState, error)
}

// nativeMaildrops picks the native backends out of openers, by name.
func nativeMaildrops(openers map[string]pop3.Opener) map[string]maildropInspector {
	out := map[string]maildropInspector{}
	for name, op := range openers {
		if m, ok := op.(maildropInspector); ok {
			out[name] = m
		}
	}
	return out
}

type doctorRoute struct {
	Backend string `json:"backend"`
	Kind    string `json:"kind"` // the backend URL's scheme
	// Rule is the routes file's line that chose the backend; empty when
	// the user goes to the default backend.
	Rule string `json:"rule,omitempty"`
	// Why says it in words.
	Why string `json:"why"`
}

// doctorUIDL is the user's UIDL continuity state.
type doctorUIDL struct {
	// Legacy counts what was learned from (or imported for) the legacy
	// maildrop: messages present there at the last look, and how many of
	// them have a fingerprint, which a message needs to be matched after
	// a move.
	LegacyPresent      int `json:"legacy_present"`
	LegacyFingerprints int `json:"legacy_fingerprinted"`
	LegacyGone         int `json:"legacy_gone"`
	// LegacyImported counts the present messages a "popgate uidl import"
	// recorded, the rest were learned from legacy sessions; LastImport is
	// the latest import's time, nil if none covered the user.
	LegacyImported int        `json:"legacy_imported"`
	LastImport     *time.Time `json:"last_import,omitempty"`
	// Mapped and Unmapped count the pairs resolved on the backend the
	// user is routed to, if it is not a legacy one.
	Mapped   int `json:"mapped"`
	Unmapped int `json:"unmapped"`
	// Conflicts are legacy UIDLs shown for more than one message of the
	// maildrop on the new backend; there should be none.
	Conflicts []string `json:"conflicts,omitempty"`
}

// doctor gathers a doctorReport; it lives in the serving process.
type doctor struct {
	cfg      config.Config
	router   *routes.Router // nil without a routes file
	health   *health.Checker
	sessions *recent.Log
	uidls    store.UIDLStore
	breaks   store.BreakStore // nil if the store keeps none
	throttle *throttle.Throttle
	// openMaildrops is the proxy's count; set once the proxy exists.
	openMaildrops func(user string) int
	// maildrops are the native backends; leases the shared session
	// leases, nil without a shared store.
	maildrops map[string]maildropInspector
	leases    leaseHolders
}

func (d *doctor) report(ctx context.Context, user string) (doctorReport, error) {
	r := doctorReport{User: user, Sessions: d.sessions.Of(user), Throttle: d.throttle.Report(user),
		AuthFailures: d.throttle.AuthFailures(user)}
	if r.Sessions == nil {
		r.Sessions = []recent.Session{}
	}
	r.Route = d.route(user)
	if d.openMaildrops != nil {
		r.OpenMaildrops = d.openMaildrops(user)
	}
	r.Maildrop, r.Lease = d.lockState(ctx, r.Route.Backend, user)
	for _, s := range d.health.Status() {
		if s.Backend == r.Route.Backend {
			r.Health = &s
		}
	}
	legacy, err := d.uidls.Legacy(ctx, user)
	if err != nil {
		return r, err
	}
	for _, e := range legacy {
		if !e.Imported.IsZero() {
			if r.UIDL.LastImport == nil || e.Imported.After(*r.UIDL.LastImport) {
				r.UIDL.LastImport = &e.Imported
			}
			if !e.Gone {
				r.UIDL.LegacyImported++
			}
		}
		switch {
		case e.Gone:
			r.UIDL.LegacyGone++
		case e.Fingerprint != "":
			r.UIDL.LegacyPresent++
			r.UIDL.LegacyFingerprints++
		default:
			r.UIDL.LegacyPresent++
		}
	}
	if !slices.Contains(d.cfg.LegacyBackends(), r.Route.Backend) {
		pairs, err := d.uidls.Pairs(ctx, user, r.Route.Backend)
		if err != nil {
			return r, err
		}
		shown := map[string]int{}
		for _, p := range pairs {
			if p.Mapped {
				r.UIDL.Mapped++
			} else {
				r.UIDL.Unmapped++
			}
			if shown[p.UIDL]++; shown[p.UIDL] == 2 {
				r.UIDL.Conflicts = append(r.UIDL.Conflicts, p.UIDL)
			}
		}
		slices.Sort(r.UIDL.Conflicts)
	}
	if d.breaks != nil {
		if r.Poison, err = d.breaks.Breaks(ctx, user); err != nil {
			return r, err
		}
	}
	return r, nil
}

// lockState reads the locks on user's maildrop on backend, if it is a
// native one. The session lease is keyed by the maildrop's path, as
// backend.Backend takes it.
func (d *doctor) lockState(ctx context.Context, backendName, user string) (*backend.MaildropState, *doctorLease) {
	in, ok := d.maildrops[backendName]
	if !ok {
		return nil, nil
	}
	m, err := in.Maildrop(user)
	if err != nil {
		return nil, nil // a name no maildrop can have: nobody logs in as it
	}
	if d.leases == nil {
		return &m, nil
	}
	var l doctorLease
	holder, left, err := d.leases.Holder(ctx, m.Path)
	if err != nil {
		l.Error = err.Error()
	}
	l.Holder, l.ExpiresInMS = holder, left.Milliseconds()
	return &m, &l
}

func (d *doctor) route(user string) doctorRoute {
	var rt doctorRoute
	if d.router != nil {
		if b, rule, ok := d.router.Explain(user); ok {
			rt.Backend, rt.Rule, rt.Why = b, rule, "routes file "+d.router.Path()+": "+rule+" "+b
		}
	}
	if rt.Backend == "" {
		rt.Backend, rt.Why = d.cfg.DefaultBackend, "no rule in the routes file: the default backend"
		if d.router == nil {
			rt.Why = "no routes file: the default backend"
		}
	}
	for _, b := range d.cfg.Backends {
		if b.Name == rt.Backend {
			rt.Kind = b.URL.Scheme
		}
	}
	return rt
}

// handler serves GET ?user=NAME with the user's doctorReport as JSON.
func (d *doctor) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if user == "" {
			http.Error(w, "missing user parameter", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		rep, err := d.report(ctx, user)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// An encoding error means the client went away; nothing to do.
		_ = json.NewEncoder(w).Encode(rep)
	})
}
