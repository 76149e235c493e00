package throttle

import (
	"fmt"
	"net"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// failures is a failure count that is forgotten window after the last one.
type failures struct {
	n    int
	last time.Time
}

// current is the count still in force at now.
func (f failures) current(now time.Time, window time.Duration) int {
	if now.Sub(f.last) >= window {
		return 0
	}
	return f.n
}

// authFailures counts failed logins per client address, per (user, client
// address) and per user, each in its own bounded LRU. The package doc gives
// the rules.
type authFailures struct {
	cfg *Config
	// mu makes each read-modify-write of a counter atomic.
	mu     sync.Mutex
	client *lru.Cache[string, failures]
	pair   *lru.Cache[pairKey, failures]
	user   *lru.Cache[string, failures]
}

type pairKey struct{ user, client string }

func newAuthFailures(cfg *Config) (*authFailures, error) {
	client, err := lru.New[string, failures](cfg.StateSize)
	if err != nil {
		return nil, fmt.Errorf("throttle: failure state of size %d: %w", cfg.StateSize, err)
	}
	pair, _ := lru.New[pairKey, failures](cfg.StateSize)
	user, _ := lru.New[string, failures](cfg.StateSize)
	return &authFailures{cfg: cfg, client: client, pair: pair, user: user}, nil
}

// authVerdict is what the failure counters say about one login attempt.
type authVerdict struct {
	delay   time.Duration
	refused string // why the attempt is refused; "" if it is not
}

// check judges an attempt by client for user at now.
func (a *authFailures) check(user, client string, now time.Time) authVerdict {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.cfg.AuthFailWindow
	cf, _ := a.client.Peek(client)
	c := cf.current(now, w)
	if c == 0 {
		// A client that has not failed is never held back by others.
		return authVerdict{}
	}
	pf, _ := a.pair.Peek(pairKey{user, client})
	uf, _ := a.user.Peek(user)
	p, u := pf.current(now, w), uf.current(now, w)
	switch {
	case p >= a.cfg.AuthFailLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed logins as %s from %s", p, user, client)}
	case c >= a.cfg.AuthFailClientLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed logins from %s", c, client)}
	}
	return authVerdict{delay: a.delay(max(p, u))}
}

// delay is AuthFailBaseDelay doubled for every failure after the first,
// capped at AuthFailMaxDelay.
func (a *authFailures) delay(k int) time.Duration {
	if k <= 0 {
		return 0
	}
	d := a.cfg.AuthFailBaseDelay
	for i := 1; i < k && d < a.cfg.AuthFailMaxDelay; i++ {
		d *= 2
	}
	return min(d, a.cfg.AuthFailMaxDelay)
}

// failed counts a failed login by client as user.
func (a *authFailures) failed(user, client string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.cfg.AuthFailWindow
	// Peek's zero value for an absent key counts as no failures.
	bump := func(f failures, _ bool) failures {
		return failures{n: f.current(now, w) + 1, last: now}
	}
	a.client.Add(client, bump(a.client.Peek(client)))
	a.pair.Add(pairKey{user, client}, bump(a.pair.Peek(pairKey{user, client})))
	a.user.Add(user, bump(a.user.Peek(user)))
}

// succeeded forgets client's failures against user: they are taken off
// the client's and the user's counts too, since they were typos by the
// owner. The client's failures against other users and the user's failures
// from elsewhere stay.
func (a *authFailures) succeeded(user, client string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := pairKey{user, client}
	pf, ok := a.pair.Peek(key)
	if !ok {
		return
	}
	a.pair.Remove(key)
	p := pf.current(now, a.cfg.AuthFailWindow)
	if f, ok := a.client.Peek(client); ok {
		forget(a.client, client, f, p)
	}
	if f, ok := a.user.Peek(user); ok {
		forget(a.user, user, f, p)
	}
}

// forget takes n failures off the count under k.
func forget[K comparable](c *lru.Cache[K, failures], k K, f failures, n int) {
	if f.n <= n {
		c.Remove(k)
		return
	}
	f.n -= n
	c.Add(k, f)
}

// clientKey is the address part of a client address: failures are counted
// per host, not per source port.
func clientKey(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	s := addr.String()
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	return s
}
