package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
)

// ErrServerClosed is returned by Serve, ServeTLS, Shutdown and Close after
// the server has been shut down.
var ErrServerClosed = errors.New("proxy: server closed")

// Server is the client-facing POP3 server.
type Server struct {
	o   Options
	log *zap.Logger

	nextID atomic.Uint64
	closed atomic.Bool

	preLogin  counter[netip.Addr] // connections not logged in, by address
	userAddrs counter[userAddr]   // logged-in sessions by user and address

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*clientSession]struct{}
	wg        sync.WaitGroup // sessions

	open openMaildrops

	parkOnce sync.Once
	parker   atomic.Pointer[parker] // set once a session parks
}

// sessionParker returns the server's parker, started by the first session
// that parks, or nil where parking is not available or not wanted (the
// session then waits on its goroutine).
func (s *Server) sessionParker() *parker {
	if s.o.ParkIdleAfter <= 0 {
		return nil
	}
	s.parkOnce.Do(func() {
		if p := newParker(); p != nil {
			s.parker.Store(p)
		}
	})
	return s.parker.Load()
}

// stopParker stops the parker, once every session has ended.
func (s *Server) stopParker() {
	if p := s.parker.Load(); p != nil {
		p.close()
	}
}

// New checks o and returns a Server.
func New(o Options) (*Server, error) {
	if len(o.Backends) == 0 {
		return nil, errors.New("proxy: no backends")
	}
	if o.DefaultBackend != "" {
		if _, ok := o.Backends[o.DefaultBackend]; !ok {
			return nil, fmt.Errorf("proxy: default backend %q is not configured", o.DefaultBackend)
		}
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	o.LoginTimeout = orDefault(o.LoginTimeout, DefaultLoginTimeout)
	o.ParkIdleAfter = orDefault(o.ParkIdleAfter, DefaultParkIdleAfter)
	o.MaxPreLogin = orDefault(o.MaxPreLogin, DefaultMaxPreLogin)
	o.MaxPreLoginPerAddress = orDefault(o.MaxPreLoginPerAddress, DefaultMaxPreLoginPerAddress)
	o.MaxSessionsPerUserAddress = orDefault(o.MaxSessionsPerUserAddress, DefaultMaxSessionsPerUserAddress)
	if o.AuthFailDelay == 0 {
		o.AuthFailDelay = DefaultAuthFailDelay
	}
	if o.MaxProtocolErrors <= 0 {
		o.MaxProtocolErrors = DefaultMaxProtocolErrors
	}
	if o.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		o.Hostname = h
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Server{
		o:         o,
		log:       o.Logger,
		listeners: map[net.Listener]struct{}{},
		sessions:  map[*clientSession]struct{}{},
	}, nil
}

// orDefault maps zero to def and a negative value to 0 (none).
func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// PreLogin returns the number of connections that have not logged in.
func (s *Server) PreLogin() int { return s.preLogin.held() }

// Serve accepts plain POP3 connections on l (STLS is offered when
// Options.TLSConfig is set) until the server is shut down. It always
// returns a non-nil error; after Shutdown or Close, ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	return s.serve(l, tlsNone)
}

// ServeTLS accepts implicit-TLS connections on l using Options.TLSConfig.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.o.TLSConfig == nil {
		return errors.New("proxy: ServeTLS needs Options.TLSConfig")
	}
	return s.serve(l, tlsImplicit)
}

func (s *Server) serve(l net.Listener, mode string) error {
	l = s.wrapListener(l, mode)
	if !s.track(l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.track(l, false)
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closed.Load() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				delay = nextBackoff(delay)
				s.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("retry_in", delay))
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		delay = 0
		sess := s.newSession(c, mode)
		if !s.add(sess) {
			c.Close()
			return ErrServerClosed
		}
		go sess.serve()
	}
}

// nextBackoff doubles the accept retry delay from 5ms up to 1s, as net/http does.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track registers or forgets a listener; it refuses new ones once closed.
func (s *Server) track(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed.Load() {
			return false
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) add(sess *clientSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) remove(sess *clientSession) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

// closeListeners marks the server closed and stops every accept loop.
func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return ErrServerClosed
	}
	for l := range s.listeners {
		l.Close()
	}
	return nil
}

// closeSessions ends sessions; with idleOnly, only those waiting for a
// command in the AUTHORIZATION state. It reports how many remain.
func (s *Server) closeSessions(idleOnly bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := 0
	for sess := range s.sessions {
		if idleOnly && !sess.idleUnauthenticated() {
			left++
			continue
		}
		sess.abort()
	}
	return left
}

// Shutdown stops accepting, closes sessions that are waiting in the
// AUTHORIZATION state, and waits for the others to finish until ctx is
// done; then it closes the rest without UPDATE (their deletions are not
// committed) and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.closeListeners(); err != nil {
		return err
	}
	poll := 5 * time.Millisecond
	for {
		if s.closeSessions(true) == 0 {
			s.wg.Wait()
			s.stopParker()
			return nil
		}
		select {
		case <-ctx.Done():
			s.closeSessions(false)
			s.wg.Wait()
			s.stopParker()
			return ctx.Err()
		case <-time.After(poll):
			poll = min(2*poll, 500*time.Millisecond)
		}
	}
}

// Close stops accepting and closes every session at once, without UPDATE.
func (s *Server) Close() error {
	if err := s.closeListeners(); err != nil {
		return err
	}
	s.closeSessions(false)
	s.wg.Wait()
	s.stopParker()
	return nil
}

// route returns the backend name and Opener for a user.
func (s *Server) route(user string) (string, pop3.Opener, error) {
	name := s.o.DefaultBackend
	if s.o.Router != nil {
		if b, ok := s.o.Router.Route(user); ok {
			name = b
		}
	}
	op, ok := s.o.Backends[name]
	if !ok {
		return name, nil, &pop3.Error{Code: pop3.CodeSysPerm, Text: "mailbox not available",
			Err: fmt.Errorf("user %s: no backend named %q", user, name)}
	}
	return name, op, nil
}
