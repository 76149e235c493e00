package throttle

import (
	"fmt"
	"net"
	"net/netip"
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

// authFailures counts failed logins per client address, per client network,
// per (user, client address) and per user, each in its own bounded LRU, and
// the attempts still being verified, so that parallel guesses count before
// their verdict is known. The package doc gives the rules.
type authFailures struct {
	conf func() *Config // the settings in force
	// mu makes each read-modify-write of a counter atomic.
	mu      sync.Mutex
	client  *lru.Cache[string, failures]
	network *lru.Cache[string, failures]
	pair    *lru.Cache[pairKey, failures]
	user    *lru.Cache[string, failures]
	// Attempts in flight; each entry is held by a live connection, so
	// these stay as small as the number of open sessions.
	clientIn  map[string]int
	networkIn map[string]int
	pairIn    map[pairKey]int
}

type pairKey struct{ user, client string }

func newAuthFailures(conf func() *Config) (*authFailures, error) {
	cfg := conf()
	client, err := lru.New[string, failures](cfg.StateSize)
	if err != nil {
		return nil, fmt.Errorf("throttle: failure state of size %d: %w", cfg.StateSize, err)
	}
	network, _ := lru.New[string, failures](cfg.StateSize)
	pair, _ := lru.New[pairKey, failures](cfg.StateSize)
	user, _ := lru.New[string, failures](cfg.StateSize)
	return &authFailures{conf: conf, client: client, network: network, pair: pair, user: user,
		clientIn: map[string]int{}, networkIn: map[string]int{}, pairIn: map[pairKey]int{}}, nil
}

// authVerdict is what the failure counters say about one login attempt.
type authVerdict struct {
	delay   time.Duration
	refused string // why the attempt is refused; "" if it is not
}

// pending is a login being verified: it counts against the limits from
// begin until end.
type pending struct {
	user, client, network string
	ended                 bool
}

// begin judges an attempt by client for user at now and, unless it is
// refused, reserves its place under the limits in the same step: a
// thousand parallel guesses see each other's reservations, so no more
// than the limit are ever verified. The caller ends a non-nil attempt.
func (a *authFailures) begin(user, client string, now time.Time) (authVerdict, *pending) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.conf().AuthFailWindow
	nw := a.conf().networkOf(client)
	pk := pairKey{user, client}
	cf, _ := a.client.Peek(client)
	nf, _ := a.network.Peek(nw)
	pf, _ := a.pair.Peek(pk)
	c, n, p := cf.current(now, w), nf.current(now, w), pf.current(now, w)
	switch {
	case p+a.pairIn[pk] >= a.conf().AuthFailLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed and %d pending logins as %s from %s", p, a.pairIn[pk], user, client)}, nil
	case c+a.clientIn[client] >= a.conf().AuthFailClientLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed and %d pending logins from %s", c, a.clientIn[client], client)}, nil
	case n+a.networkIn[nw] >= a.conf().AuthFailNetworkLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed and %d pending logins from %s", n, a.networkIn[nw], nw)}, nil
	}
	a.clientIn[client]++
	a.networkIn[nw]++
	a.pairIn[pk]++
	at := &pending{user: user, client: client, network: nw}
	if c == 0 {
		// A client that has not failed is never slowed down by others.
		return authVerdict{}, at
	}
	uf, _ := a.user.Peek(user)
	return authVerdict{delay: a.delay(max(p, uf.current(now, w)))}, at
}

// delay is AuthFailBaseDelay doubled for every failure after the first,
// capped at AuthFailMaxDelay.
func (a *authFailures) delay(k int) time.Duration {
	if k <= 0 {
		return 0
	}
	d := a.conf().AuthFailBaseDelay
	for i := 1; i < k && d < a.conf().AuthFailMaxDelay; i++ {
		d *= 2
	}
	return min(d, a.conf().AuthFailMaxDelay)
}

// end takes at off the attempts in flight; calling it again does nothing.
// The caller holds mu.
func (a *authFailures) end(at *pending) {
	if at == nil || at.ended {
		return
	}
	at.ended = true
	dec(a.clientIn, at.client)
	dec(a.networkIn, at.network)
	dec(a.pairIn, pairKey{at.user, at.client})
}

func dec[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// abandoned ends an attempt that got no verdict (refused by policy, backend
// unreachable): it counts neither way.
func (a *authFailures) abandoned(at *pending) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.end(at)
}

// failed turns the attempt into a failed login.
func (a *authFailures) failed(at *pending, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if at == nil || at.ended {
		return
	}
	a.end(at)
	w := a.conf().AuthFailWindow
	// Peek's zero value for an absent key counts as no failures.
	bump := func(f failures, _ bool) failures {
		return failures{n: f.current(now, w) + 1, last: now}
	}
	pk := pairKey{at.user, at.client}
	a.client.Add(at.client, bump(a.client.Peek(at.client)))
	a.network.Add(at.network, bump(a.network.Peek(at.network)))
	a.pair.Add(pk, bump(a.pair.Peek(pk)))
	a.user.Add(at.user, bump(a.user.Peek(at.user)))
}

// succeeded ends the attempt and forgets the client's failures against
// the user: they are taken off the client's, network's and user's counts
// too, since they were typos by the owner. The client's failures against
// other users and the user's failures from elsewhere stay.
func (a *authFailures) succeeded(at *pending, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if at == nil || at.ended {
		return
	}
	a.end(at)
	key := pairKey{at.user, at.client}
	pf, ok := a.pair.Peek(key)
	if !ok {
		return
	}
	a.pair.Remove(key)
	p := pf.current(now, a.conf().AuthFailWindow)
	if f, ok := a.client.Peek(at.client); ok {
		forget(a.client, at.client, f, p)
	}
	if f, ok := a.network.Peek(at.network); ok {
		forget(a.network, at.network, f, p)
	}
	if f, ok := a.user.Peek(at.user); ok {
		forget(a.user, at.user, f, p)
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

// networkOf is the network a client address belongs to for the
// per-network limit: its first AuthFailIPv4Prefix or AuthFailIPv6Prefix
// bits. A client key that is not an IP address is its own network.
func (c *Config) networkOf(client string) string {
	ip, err := netip.ParseAddr(client)
	if err != nil {
		return client
	}
	ip = ip.Unmap().WithZone("")
	bits := c.AuthFailIPv6Prefix
	if ip.Is4() {
		bits = c.AuthFailIPv4Prefix
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return client
	}
	return p.String()
}
