package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Leases hands out expiring, renewable leases on names, shared by several
// popgate instances (store/redis provides them). A lease whose holder dies
// expires by itself, so a crashed instance locks a user out for at most
// one lease period.
type Leases interface {
	// Take takes the lease on key for holder for ttl. If someone else holds
	// it, it returns ok false and that holder.
	Take(ctx context.Context, key, holder string, ttl time.Duration) (ok bool, current string, err error)
	// Renew extends holder's lease by ttl, reporting false if holder no
	// longer holds it.
	Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error)
	// Drop ends holder's lease; a lease held by someone else is left alone.
	Drop(ctx context.Context, key, holder string) error
}

// Lease times: a session renews its lease every LeaseTTL/3, so two renewals
// can fail before it runs out.
const (
	LeaseTTL     = 30 * time.Second
	leaseTimeout = 2 * time.Second
)

// ErrLeaseUnavailable means the shared lease could not be taken or checked
// (the store is down): the login is refused for now rather than risk two
// instances serving one maildrop.
var ErrLeaseUnavailable = errors.New("cluster session lock unavailable")

// ShareThrough makes every session lock also take a lease in l, so that
// one session per maildrop holds across instances. instance names this
// process in the holder (host name); call it before the first Acquire.
func (s *Sessions) ShareThrough(l Leases, instance string) {
	s.leases, s.instance = l, fmt.Sprintf("%s pid %d", instance, os.Getpid())
}

// lease is a held lease and its renewer.
type lease struct {
	l           Leases
	key, holder string
	stop        chan struct{}
	done        chan struct{}
	once        sync.Once
}

func (s *Sessions) takeLease(maildrop, id string) (*lease, error) {
	le := &lease{l: s.leases, key: maildrop, holder: s.instance + " session " + id,
		stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	ok, current, err := le.l.Take(ctx, le.key, le.holder, LeaseTTL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLeaseUnavailable, err)
	}
	if !ok {
		return nil, &InUseError{Maildrop: maildrop, Holder: current}
	}
	go le.renew()
	return le, nil
}

// renew extends the lease until release. A renewal that finds the lease
// gone (the store lost it, or it expired during an outage) stops trying:
// the session goes on under its local lock.
func (le *lease) renew() {
	defer close(le.done)
	tick := time.NewTicker(LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-le.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
			held, err := le.l.Renew(ctx, le.key, le.holder, LeaseTTL)
			cancel()
			if err == nil && !held {
				return
			}
		}
	}
}

// release stops renewing and drops the lease. Only the first call does
// anything.
func (le *lease) release() {
	le.once.Do(func() {
		close(le.stop)
		<-le.done
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		defer cancel()
		// A failed drop leaves the lease to expire.
		_ = le.l.Drop(ctx, le.key, le.holder)
	})
}
