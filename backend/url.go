package backend

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/popgate/popgate/uidl"
)

// FromURL turns a backend URL into Options: mbox:///var/mail/%u or
// maildir:///srv/mail/%d/%n/Maildir, with query parameters
//
//	uidl=native|xuidl|popa3d   the unique-id scheme (default native)
//	lock_timeout=10s           wait for a delivery agent's spool lock
//	max_sessions=N             concurrently open maildrops (0: unlimited)
//	index_cache=N              maildrop indexes kept in memory
//	hide_headers=true|false    leave out store-only headers (default false)
//	auth_backend=NAME          check users missing from the users file by
//	                           logging in to the legacy backend NAME
//
// An unknown or malformed parameter is an error that names it. Auth is left
// for the caller to set.
func FromURL(name string, u *url.URL, dataDir string) (Options, error) {
	o := Options{Name: name, DataDir: dataDir}
	switch u.Scheme {
	case KindMbox, KindMaildir:
		o.Kind = u.Scheme
	default:
		return Options{}, fmt.Errorf("backend %s: scheme %q is neither mbox nor maildir", name, u.Scheme)
	}
	if u.Host != "" || u.User != nil {
		return Options{}, fmt.Errorf("backend %s: %s URL takes no host: write %s:///path", name, u.Scheme, u.Scheme)
	}
	if u.Path == "" {
		return Options{}, fmt.Errorf("backend %s: %s URL needs a path", name, u.Scheme)
	}
	o.PathPattern = u.Path
	if !filepath.IsAbs(o.PathPattern) {
		// A relative pattern (maildir://./mail/%u, as config passes it with
		// the host folded into the path) is taken from the working directory.
		abs, err := filepath.Abs(o.PathPattern)
		if err != nil {
			return Options{}, fmt.Errorf("backend %s: path %s: %w", name, u.Path, err)
		}
		o.PathPattern = abs
	}
	for key, vals := range u.Query() {
		if len(vals) != 1 {
			return Options{}, fmt.Errorf("backend %s: parameter %s given %d times", name, key, len(vals))
		}
		v := vals[0]
		var err error
		switch key {
		case "uidl":
			o.UIDL, err = uidl.ParseScheme(v)
			if v == "" {
				err = fmt.Errorf("empty")
			}
		case "lock_timeout":
			o.LockTimeout, err = time.ParseDuration(v)
			if err == nil && o.LockTimeout <= 0 {
				err = fmt.Errorf("must be positive")
			}
		case "hide_headers":
			o.HideHeaders, err = strconv.ParseBool(v)
		case "max_sessions":
			o.MaxSessions, err = nonNegative(v)
		case "index_cache":
			o.IndexCacheSize, err = nonNegative(v)
		case "auth_backend":
			o.AuthBackend = v
			if v == "" {
				err = fmt.Errorf("empty")
			}
		default:
			return Options{}, fmt.Errorf("backend %s: unknown parameter %s", name, key)
		}
		if err != nil {
			return Options{}, fmt.Errorf("backend %s: parameter %s=%q: %w", name, key, v, err)
		}
	}
	return o, nil
}

func nonNegative(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a non-negative integer")
	}
	return n, nil
}
