package throttle

import (
	"fmt"
	"net"
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

// authFailures counts failed logins per client address, per (user, client
// address) and per user. The per-client counts live in one table, the
// others in one record per user, so that a reset of a user is one delete.
// The package doc gives the rules.
type authFailures struct {
	cfg *Config
	// mu makes each read-modify-write of a counter atomic within this
	// process; instances sharing a store may lose a concurrent increment,
	// which only makes a guesser's delay grow a little slower.
	mu     sync.Mutex
	client table[failures]
	user   table[userFailures]
}

// authVerdict is what the failure counters say about one login attempt.
type authVerdict struct {
	delay   time.Duration
	refused string // why the attempt is refused; "" if it is not
	// failing is true when the client has failures in force: only then
	// can a successful login have any to forget.
	failing bool
}

// check judges an attempt by client for user at now.
func (a *authFailures) check(user, client string, now time.Time) authVerdict {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.cfg.AuthFailWindow
	cf, _ := a.client.peek(client)
	c := cf.current(now, w)
	if c == 0 {
		// A client that has not failed is never held back by others.
		return authVerdict{}
	}
	uf, _ := a.user.peek(user)
	p, u := uf.Clients[client].current(now, w), uf.Total.current(now, w)
	switch {
	case p >= a.cfg.AuthFailLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed logins as %s from %s", p, user, client), failing: true}
	case c >= a.cfg.AuthFailClientLimit:
		return authVerdict{refused: fmt.Sprintf("%d failed logins from %s", c, client), failing: true}
	}
	return authVerdict{delay: a.delay(max(p, u)), failing: true}
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
	bump := func(f failures) failures { return failures{N: f.current(now, w) + 1, Last: now} }
	cf, _ := a.client.peek(client)
	a.client.add(client, bump(cf))
	uf, _ := a.user.peek(user)
	clients := make(map[string]failures, len(uf.Clients)+1)
	for k, f := range uf.Clients {
		if f.current(now, w) > 0 {
			clients[k] = f
		}
	}
	clients[client] = bump(uf.Clients[client])
	dropOldest(clients, maxClientsPerUser)
	a.user.add(user, userFailures{Total: bump(uf.Total), Clients: clients})
}

// succeeded forgets client's failures against user: they are taken off
// the client's and the user's counts too, since they were typos by the
// owner. The client's failures against other users and the user's failures
// from elsewhere stay.
func (a *authFailures) succeeded(user, client string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	uf, ok := a.user.peek(user)
	if !ok {
		return
	}
	pf, ok := uf.Clients[client]
	if !ok {
		return
	}
	p := pf.current(now, a.cfg.AuthFailWindow)
	delete(uf.Clients, client)
	uf.Total.N -= p
	if uf.Total.N <= 0 && len(uf.Clients) == 0 {
		a.user.remove(user)
	} else {
		uf.Total.N = max(uf.Total.N, 0)
		a.user.add(user, uf)
	}
	if f, ok := a.client.peek(client); ok {
		if f.N <= p {
			a.client.remove(client)
		} else {
			f.N -= p
			a.client.add(client, f)
		}
	}
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
