package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/popgate/popgate/pop3"
)

// Defaults for DelegateOptions.
const (
	DefaultDelegateCacheTTL  = time.Minute
	DefaultDelegateCacheSize = 4096
)

// DelegateOptions configures Delegate. The zero value is usable.
type DelegateOptions struct {
	// Name names the legacy backend in errors, for the log.
	Name string
	// CacheTTL is how long a password the legacy server accepted is
	// accepted again without asking it. Zero means
	// DefaultDelegateCacheTTL; negative disables the cache. Within the TTL a
	// password changed on the legacy server still works here.
	CacheTTL time.Duration
	// CacheSize bounds the number of users cached. Zero means
	// DefaultDelegateCacheSize.
	CacheSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Delegator checks passwords by logging in to a legacy POP3 server, so that
// users can move to the native backend before their passwords do.
type Delegator struct {
	open   pop3.Opener
	name   string
	ttl    time.Duration
	now    func() time.Time
	cache  *lru.Cache[string, cachedLogin] // nil when disabled
	macKey []byte
	users  keyedMutex // one legacy check per user at a time
}

var (
	_ Authenticator = (*Delegator)(nil)
	_ APOPChecker   = (*Delegator)(nil)
	_ pop3.APOPer   = (*Delegator)(nil)
)

// cachedLogin remembers a keyed hash of an accepted password, never the
// password itself.
type cachedLogin struct {
	mac     []byte
	expires time.Time
}

// Delegate returns an Authenticator that opens the user's maildrop through o
// (typically the upstream backend of the legacy server) and closes it at
// once, without UPDATE, so nothing changes on the legacy server. A refusal
// by the legacy server ([AUTH]) is a refusal; any other failure (server
// down, [IN-USE], [SYS/...]) is [SYS/TEMP], since the password could not be
// checked.
//
// Accepted passwords are cached for CacheTTL (one minute by default), so a
// client polling every minute does not cost the legacy server a login per
// poll; refusals are never cached.
func Delegate(o pop3.Opener, opt DelegateOptions) *Delegator {
	d := &Delegator{open: o, name: opt.Name, ttl: opt.CacheTTL, now: opt.Now}
	if d.name == "" {
		d.name = "legacy"
	}
	if d.ttl == 0 {
		d.ttl = DefaultDelegateCacheTTL
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.ttl > 0 {
		size := opt.CacheSize
		if size <= 0 {
			size = DefaultDelegateCacheSize
		}
		d.cache, _ = lru.New[string, cachedLogin](size) // fails only for size <= 0
		d.macKey = []byte(rand.Text())
	}
	return d
}

// Authenticate checks USER/PASS, AUTH PLAIN and AUTH LOGIN credentials
// against the legacy server. APOP is refused: its digest is bound to
// popgate's greeting, which the legacy server never sent.
func (d *Delegator) Authenticate(ctx context.Context, c pop3.Credentials) error {
	if !c.Mechanism.CarriesPassword() {
		return refuse(fmt.Errorf("delegate %s: user %q: %w %q", d.name, c.User, ErrMechanism, c.Mechanism))
	}
	mac := d.mac(c.User, c.Password)
	if d.cached(c.User, mac) {
		return nil
	}
	unlock, err := d.users.lock(ctx, c.User)
	if err != nil {
		return d.unavailable(c.User, err)
	}
	defer unlock()
	if d.cached(c.User, mac) { // a concurrent login just checked it
		return nil
	}
	mb, err := d.open.Open(ctx, c)
	if err != nil {
		if pop3.CodeOf(err) == pop3.CodeAuth {
			return refuse(fmt.Errorf("delegate %s: user %q: legacy server refused the login: %w", d.name, c.User, err))
		}
		return d.unavailable(c.User, err)
	}
	// Close, not Update: the check must not change the legacy maildrop. A
	// failing Close does not undo the server's acceptance.
	_ = mb.Close()
	if d.cache != nil {
		d.cache.Add(c.User, cachedLogin{mac: mac, expires: d.now().Add(d.ttl)})
	}
	return nil
}

// unavailable is the [SYS/TEMP] failure for a check that could not be made.
func (d *Delegator) unavailable(user string, cause error) error {
	return &pop3.Error{
		Code: pop3.CodeSysTemp,
		Text: "cannot check the password now",
		Err:  fmt.Errorf("delegate %s: user %q: %w", d.name, user, cause),
	}
}

func (d *Delegator) mac(user, password string) []byte {
	if d.cache == nil {
		return nil
	}
	h := hmac.New(sha256.New, d.macKey)
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(password))
	return h.Sum(nil)
}

func (d *Delegator) cached(user string, mac []byte) bool {
	if d.cache == nil {
		return false
	}
	e, ok := d.cache.Get(user)
	if !ok {
		return false
	}
	if !d.now().Before(e.expires) {
		d.cache.Remove(user)
		return false
	}
	return hmac.Equal(e.mac, mac)
}

// CanAPOP is always false: the legacy server cannot check a digest made
// over popgate's greeting.
func (d *Delegator) CanAPOP(string) bool { return false }

// SupportsAPOP is always false; see CanAPOP.
func (d *Delegator) SupportsAPOP() bool { return false }
