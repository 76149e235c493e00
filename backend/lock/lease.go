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
// can fail before it runs out. A lease that could not be dropped (the store
// was down) is dropped again every leaseRetry until it would have expired.
const (
	LeaseTTL     = 30 * time.Second
	leaseTimeout = 2 * time.Second
	leaseRetry   = time.Second
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
	s           *Sessions
	l           Leases
	key, holder string
	// stopped ends renewing, and cuts short a renewal in flight, so that
	// a session's end never waits for a slow store.
	stopped context.Context
	stop    context.CancelFunc
	done    chan struct{}
	once    sync.Once
	// renewed is when the store last confirmed the lease: it expires by
	// itself LeaseTTL later. Written by renew, read after done.
	renewed time.Time
}

func (s *Sessions) takeLease(maildrop, id string) (*lease, error) {
	le := &lease{s: s, l: s.leases, key: maildrop, holder: s.instance + " session " + id, done: make(chan struct{})}
	le.stopped, le.stop = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	le.renewed = time.Now()
	ok, current, err := le.l.Take(ctx, le.key, le.holder, LeaseTTL)
	if err == nil && !ok && s.dropStale(ctx, maildrop, current) {
		// The holder was one of this process's ended sessions whose
		// lease outlived a store outage: gone now, so try again.
		le.renewed = time.Now()
		ok, current, err = le.l.Take(ctx, le.key, le.holder, LeaseTTL)
	}
	if err != nil || !ok {
		le.stop()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLeaseUnavailable, err)
	}
	if !ok {
		return nil, &InUseError{Maildrop: maildrop, Holder: current}
	}
	go le.renew()
	return le, nil
}

// dropStale drops the lease on maildrop if holder is a session of this
// process that has ended but whose lease could not be dropped, reporting
// whether it did. Only such a lease is touched: Drop removes the exact
// holder named, so a lease another session has taken since stays.
func (s *Sessions) dropStale(ctx context.Context, maildrop, holder string) bool {
	s.mu.Lock()
	le := s.stale[maildrop]
	s.mu.Unlock()
	if le == nil || le.holder != holder || le.l.Drop(ctx, le.key, le.holder) != nil {
		return false
	}
	s.forget(le)
	return true
}

// retryDrop keeps trying to drop le, whose holder has ended, until the
// store takes the drop, the lease would have expired anyway, or Close:
// after a store outage the maildrop is free again as soon as the store is
// back, not a lease period later.
func (s *Sessions) retryDrop(le *lease) {
	expires := le.renewed.Add(LeaseTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !time.Now().Before(expires) {
		if s.stale[le.key] == le {
			delete(s.stale, le.key)
		}
		return
	}
	if s.quit == nil {
		s.quit = make(chan struct{})
	}
	s.retries.Add(1)
	go func() {
		defer s.retries.Done()
		defer s.forget(le)
		tick := time.NewTicker(leaseRetry)
		defer tick.Stop()
		for {
			select {
			case <-s.quit:
				return
			case now := <-tick.C:
				if !now.Before(expires) || le.drop() == nil {
					return
				}
			}
		}
	}()
}

// forget removes le from the leases waiting to be dropped.
func (s *Sessions) forget(le *lease) {
	s.mu.Lock()
	if s.stale[le.key] == le {
		delete(s.stale, le.key)
	}
	s.mu.Unlock()
}

// Close stops retrying drops; leases still waiting expire by themselves.
// Sessions go on working, without the retries.
func (s *Sessions) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		if s.quit != nil {
			close(s.quit)
		}
	}
	s.mu.Unlock()
	s.retries.Wait()
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
		case <-le.stopped.Done():
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(le.stopped, leaseTimeout)
			start := time.Now()
			held, err := le.l.Renew(ctx, le.key, le.holder, LeaseTTL)
			cancel()
			if err == nil && !held {
				return
			}
			if err == nil {
				le.renewed = start
			}
		}
	}
}

// end stops renewing and marks the lease as one to drop, which a new
// session of this process may then do itself (dropStale). Only the first
// call does anything; it reports whether it did.
func (le *lease) end() bool {
	first := false
	le.once.Do(func() {
		first = true
		le.stop()
		<-le.done
		le.s.mu.Lock()
		if le.s.stale == nil {
			le.s.stale = map[string]*lease{}
		}
		le.s.stale[le.key] = le
		le.s.mu.Unlock()
	})
	return first
}

// release drops an ended lease; if the store cannot be reached the drop is
// retried in the background.
func (le *lease) release() {
	if le.drop() == nil {
		le.s.forget(le)
		return
	}
	le.s.retryDrop(le)
}

// drop ends the lease in the store.
func (le *lease) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	return le.l.Drop(ctx, le.key, le.holder)
}
