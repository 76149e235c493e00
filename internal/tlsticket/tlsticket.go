// Package tlsticket keeps the keys that encrypt TLS session tickets. One
// secret yields a key per hour: the current hour's key encrypts new tickets,
// and the keys of the previous hours (and of the next one, for clocks a
// little apart) still decrypt them. Instances that share the secret derive
// the same keys from the clock alone, so a client resumes on any of them.
package tlsticket

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	// Period is how long one key encrypts new tickets.
	Period = time.Hour
	// Kept is how many periods before the current one still decrypt
	// tickets: a ticket is good for a day after it was issued. A client
	// that resumes gets a fresh ticket, so a mailbox polled at least once
	// a day never needs a full handshake.
	Kept = 24
	// MinSecret is the shortest secret accepted, in bytes.
	MinSecret = 32
)

// ReadSecret reads a secret from path: the file's content without
// surrounding white space, at least MinSecret bytes (for example the output
// of "openssl rand -hex 32").
func ReadSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("%s: the secret must be at least %d bytes, found %d (make one with: openssl rand -hex 32 >%s)",
			path, MinSecret, len(secret), path)
	}
	return secret, nil
}

// Keys returns the ticket keys in force at now: the current period's key
// first (it encrypts), then the next period's and the Kept previous ones.
func Keys(secret []byte, now time.Time) [][32]byte {
	p := period(now)
	keys := [][32]byte{derive(secret, p), derive(secret, p+1)}
	for i := int64(1); i <= Kept; i++ {
		keys = append(keys, derive(secret, p-i))
	}
	return keys
}

func period(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

func derive(secret []byte, period int64) [32]byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "popgate tls ticket key "+strconv.FormatInt(period, 10), 32)
	if err != nil {
		panic(err) // only for lengths SHA-256 cannot produce
	}
	return [32]byte(k)
}

// Rotator puts the keys of a secret in force on a tls.Config and moves
// them on at every period boundary.
type Rotator struct {
	cfg *tls.Config

	mu      sync.Mutex
	secret  []byte
	timer   *time.Timer
	stopped bool
}

// Start puts secret's keys in force on cfg and rotates them until Stop. A
// nil secret is replaced by a random one: tickets then resume on this
// process only, until it stops.
func Start(cfg *tls.Config, secret []byte) *Rotator {
	r := &Rotator{cfg: cfg}
	r.SetSecret(secret)
	return r
}

// SetSecret replaces the secret (nil: a random one). Tickets issued under
// the previous secret are no longer accepted; their clients make a full
// handshake and get a new ticket.
func (r *Rotator) SetSecret(secret []byte) {
	if secret == nil {
		secret = make([]byte, MinSecret)
		_, _ = rand.Read(secret)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = secret
	r.rotateLocked()
}

func (r *Rotator) rotate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rotateLocked()
}

func (r *Rotator) rotateLocked() {
	if r.stopped {
		return
	}
	now := time.Now()
	r.cfg.SetSessionTicketKeys(Keys(r.secret, now))
	next := time.Unix((period(now)+1)*int64(Period/time.Second), 0).Sub(now)
	if r.timer == nil {
		r.timer = time.AfterFunc(next, r.rotate)
	} else {
		r.timer.Reset(next)
	}
}

// Stop ends the rotation; the keys in force stay.
func (r *Rotator) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
}
