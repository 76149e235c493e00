package throttle

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// failures is a failure count that is forgotten window after the last one.
type failures struct {
	N    int       `json:"n"`
	Last time.Time `json:"last"`
}

// current is the count still in force at now.
func (f failures) current(now time.Time, window time.Duration) int {
	if now.Sub(f.Last) >= window {
		return 0
	}
	return f.N
}

// userFailures are the failed logins as one user: in all, and per client
// address.
type userFailures struct {
	Total   failures            `json:"total"`
	Clients map[string]failures `json:"clients,omitempty"`
}

// maxClientsPerUser bounds the per-client counts kept in one user's
// record; the oldest go first.
const maxClientsPerUser = 256

// authFailures counts failed logins per client address, per client network
// and per user (in all, and per client address within the user's record),
// and the attempts still being verified, so that parallel guesses count
// before their verdict is known. The per-client and per-network counts live
// in tables of their own, the others in one record per user, so that a
// reset of a user is one delete. The package doc gives the rules.
type authFailures struct {
	conf func() *Config // the settings in force
	// mu makes each read-modify-write of a counter atomic within this
	// process; instances sharing a store may lose a concurrent increment,
	// which only makes a guesser's delay grow a little slower.
	mu      sync.Mutex
	client  table[failures]
	network table[failures]
	user    table[userFailures]
	// Attempts in flight in this process; each entry is held by a live
	// connection, so these stay as small as the number of open sessions.
	clientIn  map[string]int
	networkIn map[string]int
	pairIn    map[pairKey]int
}

type pairKey struct{ user, client string }

func newAuthFailures(conf func() *Config) *authFailures {
	return &authFailures{conf: conf,
		clientIn: map[string]int{}, networkIn: map[string]int{}, pairIn: map[pairKey]int{}}
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
	// failing is true when the client had failures in force: only then
	// can a successful login have any to forget.
	failing bool
}

// begin judges an attempt by client for user at now and, unless it is
// refused, reserves its place under the limits in the same step: a
// thousand parallel guesses see each other's reservations, so no more
// than the limit are ever verified. The caller ends a non-nil attempt.
//
// Every failure counts against the client's network, the client and the
// (user, client) pair alike, so a network without failures has none of
// the others: the common login reads one counter.
func (a *authFailures) begin(user, client string, now time.Time) (authVerdict, *pending) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg := a.conf()
	w := cfg.AuthFailWindow
	nw := cfg.networkOf(client)
	pk := pairKey{user, client}
	nf, _ := a.network.peek(nw)
	n, c, p, u := nf.current(now, w), 0, 0, 0
	if n > 0 {
		cf, _ := a.client.peek(client)
		c = cf.current(now, w)
	}
	if c > 0 {
		uf, _ := a.user.peek(user)
		p, u = uf.Clients[client].current(now, w), uf.Total.current(now, w)
	}
	switch {
	case p+a.pairIn[pk] >= cfg.AuthFailLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed and %d pending logins as %s from %s", p, a.pairIn[pk], user, client)}, nil
	case c+a.clientIn[client] >= cfg.AuthFailClientLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed and %d pending logins from %s", c, a.clientIn[client], client)}, nil
	case n+a.networkIn[nw] >= cfg.AuthFailNetworkLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed and %d pending logins from %s", n, a.networkIn[nw], nw)}, nil
	}
	a.clientIn[client]++
	a.networkIn[nw]++
	a.pairIn[pk]++
	at := &pending{user: user, client: client, network: nw, failing: c > 0}
	if c == 0 {
		// A client that has not failed is never slowed down by others.
		return authVerdict{}, at
	}
	return authVerdict{delay: a.delay(max(p, u))}, at
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
	bump := func(f failures) failures { return failures{N: f.current(now, w) + 1, Last: now} }
	cf, _ := a.client.peek(at.client)
	a.client.add(at.client, bump(cf))
	nf, _ := a.network.peek(at.network)
	a.network.add(at.network, bump(nf))
	uf, _ := a.user.peek(at.user)
	clients := make(map[string]failures, len(uf.Clients)+1)
	for k, f := range uf.Clients {
		if f.current(now, w) > 0 {
			clients[k] = f
		}
	}
	clients[at.client] = bump(uf.Clients[at.client])
	dropOldest(clients, maxClientsPerUser)
	a.user.add(at.user, userFailures{Total: bump(uf.Total), Clients: clients})
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
	if !at.failing {
		return
	}
	uf, ok := a.user.peek(at.user)
	if !ok {
		return
	}
	pf, ok := uf.Clients[at.client]
	if !ok {
		return
	}
	p := pf.current(now, a.conf().AuthFailWindow)
	delete(uf.Clients, at.client)
	uf.Total.N -= p
	if uf.Total.N <= 0 && len(uf.Clients) == 0 {
		a.user.remove(at.user)
	} else {
		uf.Total.N = max(uf.Total.N, 0)
		a.user.add(at.user, uf)
	}
	forget(a.client, at.client, p)
	forget(a.network, at.network, p)
}

// forget takes n failures off the count under k.
func forget(t table[failures], k string, n int) {
	f, ok := t.peek(k)
	if !ok {
		return
	}
	if f.N <= n {
		t.remove(k)
		return
	}
	f.N -= n
	t.add(k, f)
}

// reset forgets every failed login as user.
func (a *authFailures) reset(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.user.remove(user)
}

// dropOldest removes the entries of m with the oldest Last until at most
// n are left.
func dropOldest(m map[string]failures, n int) {
	for len(m) > n {
		var oldest string
		for k, f := range m {
			if oldest == "" || f.Last.Before(m[oldest].Last) {
				oldest = k
			}
		}
		delete(m, oldest)
	}
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
