package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// Connection limits, as named on the session line (limit) and in the
// metrics.
const (
	LimitPreLoginTotal   = "prelogin_total"   // Options.MaxPreLogin
	LimitPreLoginAddress = "prelogin_address" // Options.MaxPreLoginPerAddress
	LimitUserAddress     = "user_address"     // Options.MaxSessionsPerUserAddress
)

// counter counts holders per key against a limit; the zero limit is none.
type counter[K comparable] struct {
	mu    sync.Mutex
	n     map[K]int
	total int
}

// enter takes a slot for k unless k already holds perKey slots or all keys
// together hold total (limits of 0 are off). It returns which limit refused,
// or "" with the slot taken.
func (c *counter[K]) enter(k K, perKey, total int, perKeyName, totalName string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case total > 0 && c.total >= total:
		return totalName
	case perKey > 0 && c.n[k] >= perKey:
		return perKeyName
	}
	if c.n == nil {
		c.n = map[K]int{}
	}
	c.n[k]++
	c.total++
	return ""
}

// leave gives back a slot taken by enter.
func (c *counter[K]) leave(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[k]--; c.n[k] <= 0 {
		delete(c.n, k)
	}
	c.total--
}

// held returns the slots held by all keys.
func (c *counter[K]) held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// userAddr keys the authenticated sessions of one user from one address.
type userAddr struct {
	user string
	addr netip.Addr
}

// addrOf is the IP of a client address, unmapped so that an IPv4 client
// counts once whether it came over IPv4 or IPv6; the zero Addr for other
// kinds of address (a Unix socket in tests).
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// enterPreLogin takes the session's pre-login slot. Behind a PROXY header
// the client address is known only after the first read: until then the
// slot counts against the global cap only.
func (s *clientSession) enterPreLogin() {
	if !mayProxy(s.o.ProxyProtocolFrom, s.raw.RemoteAddr()) {
		s.preAddr = addrOf(s.info.Client)
	}
	perAddr := s.o.MaxPreLoginPerAddress
	if !s.preAddr.IsValid() {
		perAddr = 0
	}
	s.overCap = s.srv.preLogin.enter(s.preAddr, perAddr, s.o.MaxPreLogin, LimitPreLoginAddress, LimitPreLoginTotal)
	s.preHeld = s.overCap == ""
}

// rekeyPreLogin moves the pre-login slot to the address a PROXY header
// gave, where the per-address cap applies.
func (s *clientSession) rekeyPreLogin() {
	a := addrOf(s.info.Client)
	if !s.preHeld || s.preAddr.IsValid() || !a.IsValid() {
		return
	}
	s.srv.preLogin.leave(s.preAddr)
	s.preAddr = a
	s.overCap = s.srv.preLogin.enter(a, s.o.MaxPreLoginPerAddress, 0, LimitPreLoginAddress, "")
	s.preHeld = s.overCap == ""
}

// leavePreLogin gives the pre-login slot back, at login or at the end.
func (s *clientSession) leavePreLogin() {
	if s.preHeld {
		s.srv.preLogin.leave(s.preAddr)
		s.preHeld = false
	}
}

// enterUserAddr takes a logged-in slot for user from the client's address,
// returning the limit that refuses it or "".
func (s *clientSession) enterUserAddr(user string) string {
	k := userAddr{user: user, addr: addrOf(s.info.Client)}
	if lim := s.srv.userAddrs.enter(k, s.o.MaxSessionsPerUserAddress, 0, LimitUserAddress, ""); lim != "" {
		return lim
	}
	s.userSlot = &k
	return ""
}

// leaveLimits gives back every slot the session holds.
func (s *clientSession) leaveLimits() {
	s.leavePreLogin()
	if s.userSlot != nil {
		s.srv.userAddrs.leave(*s.userSlot)
		s.userSlot = nil
	}
}

// refuseOverCap answers a connection over a pre-login cap and ends it.
func (s *clientSession) refuseOverCap() {
	text := "too many connections, try again later"
	if s.overCap == LimitPreLoginAddress {
		text = "too many connections from your address, try again later"
	}
	s.refuseLimit(s.overCap, text)
}

// refuseLimit answers -ERR [SYS/TEMP] for a connection limit and records it.
func (s *clientSession) refuseLimit(limit, text string) {
	s.reply(&pop3.Error{Code: pop3.CodeSysTemp, Text: text})
	s.flushWithin(time.Second)
	s.rec.Limit = limit
	s.setResult(session.ResultRefused, s.cause(fmt.Errorf("connection limit %s reached", limit)))
	s.done = true
}
