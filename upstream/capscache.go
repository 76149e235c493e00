package upstream

import (
	"sync"
	"time"
)

// capsTTL is how long a server's CAPA replies are trusted. A server's
// capabilities change only with its configuration, and a failed login
// forgets them at once, so a login rarely needs the CAPA round trip.
const capsTTL = 5 * time.Minute

// serverCaps is what a server's CAPA replies said: before STLS, and after
// it when the login upgraded the connection.
type serverCaps struct {
	pre, post caps
}

// capsCache remembers one backend's serverCaps for capsTTL. It is safe for
// concurrent use.
type capsCache struct {
	now func() time.Time // time.Now; tests move the clock

	mu      sync.Mutex
	sc      serverCaps
	expires time.Time // zero when nothing is remembered
}

// get returns the remembered capabilities, if they are still fresh.
func (cc *capsCache) get() (serverCaps, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.now().Before(cc.expires) {
		return serverCaps{}, false
	}
	return cc.sc, true
}

// put remembers what a login has just learnt from the server.
func (cc *capsCache) put(sc serverCaps) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.sc, cc.expires = sc, cc.now().Add(capsTTL)
}

// forget makes the next login ask the server again.
func (cc *capsCache) forget() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.sc, cc.expires = serverCaps{}, time.Time{}
}
