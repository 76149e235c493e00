package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Backend URL schemes.
const (
	SchemePOP3    = "pop3"    // legacy POP3 server, plain (optionally STLS)
	SchemePOP3S   = "pop3s"   // legacy POP3 server, implicit TLS
	SchemeMbox    = "mbox"    // native backend over mbox spools
	SchemeMaildir = "maildir" // native backend over Maildirs
)

// NativeBackendName names the backend of the embedded default.
const NativeBackendName = "native"

// Backend is one named entry of POPGATE_BACKENDS. Query parameters are left
// to the backend package's FromURL to check, except max_sessions, which
// every kind of backend has.
type Backend struct {
	Name string   `env:"-"`
	URL  *url.URL `env:"-"`
	// MaxSessions is the URL's max_sessions, the most concurrent sessions
	// on the backend (0: no limit). The login gate in front of every
	// backend enforces it, throttling on or off.
	MaxSessions int `env:"-"`
}

// Native reports whether the backend is served by popgate itself (mbox or
// maildir) rather than relayed to a POP3 server.
func (b Backend) Native() bool {
	return b.URL.Scheme == SchemeMbox || b.URL.Scheme == SchemeMaildir
}

// String returns name=URL with any password redacted.
func (b Backend) String() string { return b.Name + "=" + RedactURL(b.URL) }

// NativeDefault is the backend of the embedded default: one Maildir per
// user at dataDir/mail/%u/Maildir (%u is the user name), the layout the
// demo seed creates. The native backend wants an absolute path, so a
// relative dataDir is resolved here.
func NativeDefault(dataDir string) Backend {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	u := &url.URL{Scheme: SchemeMaildir, Path: filepath.Join(dataDir, "mail") + "/%u/Maildir"}
	return Backend{Name: NativeBackendName, URL: u}
}

// BackendList is POPGATE_BACKENDS: comma-separated name=URL items.
type BackendList []Backend

var backendName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// UnmarshalText parses name=URL,name=URL. Names must be unique and made of
// letters, digits, '.', '_' and '-'; schemes must be known.
func (l *BackendList) UnmarshalText(b []byte) error {
	var out BackendList
	seen := map[string]bool{}
	for item := range strings.SplitSeq(string(b), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		be, err := parseBackend(item)
		if err != nil {
			return err
		}
		if seen[be.Name] {
			return fmt.Errorf("backend %q is defined twice", be.Name)
		}
		seen[be.Name] = true
		out = append(out, be)
	}
	*l = out
	return nil
}

// parseBackend parses one name=URL item.
func parseBackend(item string) (Backend, error) {
	name, raw, ok := strings.Cut(item, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Backend{}, fmt.Errorf("%q: want name=URL", item)
	}
	if !backendName.MatchString(name) {
		return Backend{}, fmt.Errorf("backend name %q: use letters, digits, '.', '_' and '-'", name)
	}
	u, err := ParseBackendURL(strings.TrimSpace(raw))
	if err != nil {
		return Backend{}, fmt.Errorf("backend %q: %w", name, err)
	}
	be := Backend{Name: name, URL: u}
	be.MaxSessions, _ = be.maxSessions() // Validate reports a bad one
	return be, nil
}

// maxSessions parses the URL's max_sessions; absent is 0.
func (b Backend) maxSessions() (int, error) {
	vals, ok := b.URL.Query()[ParamMaxSessions]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil || n < 0 || len(vals) != 1 {
		return 0, fmt.Errorf("backend %s: parameter %s=%q: want one non-negative integer", b.Name, ParamMaxSessions, vals[0])
	}
	return n, nil
}

// ParamMaxSessions is the backend URL parameter that limits the backend's
// concurrent sessions. The backend packages' FromURL accept and skip it.
const ParamMaxSessions = "max_sessions"

// SessionLimits returns the max_sessions of each backend that has one.
func (c Config) SessionLimits() map[string]int {
	limits := map[string]int{}
	for _, b := range c.Backends {
		if b.MaxSessions > 0 {
			limits[b.Name] = b.MaxSessions
		}
	}
	return limits
}

// ParseBackendURL parses a backend URL. A '%' not followed by two hex
// digits is taken literally, so path templates such as /var/mail/%u parse
// and reach the backend as written. For mbox and maildir, what follows
// "scheme://" is a path: maildir:///var/vmail/%u is absolute and
// maildir://./mail/%u relative; maildir://var/vmail/%u is refused.
func ParseBackendURL(raw string) (*url.URL, error) {
	u, err := url.Parse(escapeLonePercents(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", unwrapURLError(err))
	}
	switch u.Scheme {
	case SchemePOP3, SchemePOP3S:
		if u.Host == "" {
			return nil, fmt.Errorf("%s URL needs a host, as in %s://127.0.0.1:110", u.Scheme, u.Scheme)
		}
	case SchemeMbox, SchemeMaildir:
		if u.Opaque != "" {
			return nil, fmt.Errorf("%s URL must start with %s://", u.Scheme, u.Scheme)
		}
		switch u.Host {
		case "":
		case ".", "..":
			// maildir://./x: the "host" is the first element of a
			// relative path.
			u.Path = u.Host + u.Path
			u.Host = ""
		default:
			// mbox://var/mail/%u is almost always a slash short of
			// /var/mail/%u; taken as relative it would serve empty
			// maildrops from the working directory.
			return nil, fmt.Errorf("%s://%s%s has two slashes: write %s:///%s%s for an absolute path, or %s://./%s%s for one relative to the working directory",
				u.Scheme, u.Host, u.Path, u.Scheme, u.Host, u.Path, u.Scheme, u.Host, u.Path)
		}
		if u.Path == "" {
			return nil, fmt.Errorf("%s URL needs a path", u.Scheme)
		}
	case "":
		return nil, fmt.Errorf("%q has no scheme (pop3, pop3s, mbox, maildir)", raw)
	default:
		return nil, fmt.Errorf("unknown scheme %q (want pop3, pop3s, mbox or maildir)", u.Scheme)
	}
	return u, nil
}

func escapeLonePercents(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			b.WriteString("%25")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unwrapURLError drops url.Error's repetition of the whole URL, which may
// hold a password.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// String joins the backends as they would be written, passwords redacted.
func (l BackendList) String() string { return join(l, ",", Backend.String) }
