package upstream

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/popgate/popgate/pop3"
)

// Defaults for the connection pool of a backend built from a URL (see
// FromURL); the zero Options keep no pool.
const (
	// DefaultPoolSize bounds the idle connections kept per backend. The
	// pool grows only when a login finds it empty shortly after another
	// login, so a quiet backend holds none and a busy one as many as
	// logins overlap, up to this.
	DefaultPoolSize = 4
	// DefaultPoolMaxAge is how long a pooled connection waits for a
	// login before it is closed: well below the shortest idle timeout of
	// the usual legacy servers before login (qpopper 120 s, Dovecot
	// 180 s, popa3d 600 s), so that the server never drops one first.
	DefaultPoolMaxAge = 30 * time.Second
)

// poolQuitTimeout bounds the QUIT that closes a pooled connection.
const poolQuitTimeout = 2 * time.Second

// poolFillBackoff is how long a failed dial for the pool stops further
// ones: a server that refuses connections gets no more than the logins
// themselves bring.
const poolFillBackoff = 5 * time.Second

// PoolStats are the counters of a backend's pool of greeted connections.
type PoolStats struct {
	// Enabled is false when the backend keeps no pool; the rest is zero.
	Enabled bool
	// Idle is the number of connections waiting for a login now.
	Idle int
	// Taken counts logins (and APOP greetings) served by a pooled
	// connection; Missed those that found the pool empty and dialled.
	Taken, Missed uint64
	// Discarded counts pooled connections found dead when taken (the
	// login was retried on a fresh connection) or that failed a refill.
	Discarded uint64
	// Refreshed counts pooled connections closed with QUIT at their
	// maximum age, unused.
	Refreshed uint64
}

// pooled is a connection greeted by the server, with its capabilities
// known and STLS done if due: a login on it is the login's own round trip.
type pooled struct {
	c         *conn
	cp        caps
	timestamp string // the greeting's APOP timestamp, if any
	born      time.Time
	replies   int // c.replies when the connection was taken
}

// pool keeps up to size greeted connections to one backend. It fills only
// while logins arrive: a login that finds it empty within maxAge of the
// previous login adds one connection, a login that takes one has it
// replaced, and a connection that waited maxAge is closed with QUIT and
// replaced only if a login found the pool empty meanwhile. A quiet backend
// therefore holds no connection after twice maxAge, which matters for
// servers that fork a process per connection.
type pool struct {
	b      *Backend
	size   int
	maxAge time.Duration
	now    func() time.Time

	ctx    context.Context // cancelled by close, to abort dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // dials and QUITs in flight

	mu         sync.Mutex
	idle       []*pooled // oldest first
	dialing    int
	owed       int // dials asked for by takes, started by refill
	lastLogin  time.Time
	lastMiss   time.Time
	fillAfter  time.Time // no dial for the pool before this, after a failure
	timer      *time.Timer
	timerArmed bool
	closed     bool

	taken, missed, discarded, refreshed atomic.Uint64
}

func newPool(b *Backend, size int, maxAge time.Duration) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{b: b, size: size, maxAge: maxAge, now: time.Now, ctx: ctx, cancel: cancel}
	p.timer = time.AfterFunc(time.Hour, p.expire)
	p.timer.Stop()
	return p
}

// take returns the oldest idle connection, or nil when there is none (or
// no pool), and asks for a replacement as demand allows, which refill
// dials. A connection the
// server has closed or written to meanwhile (a goodbye before a restart)
// is discarded before anything is sent on it.
func (p *pool) take() *pooled {
	if p == nil {
		return nil
	}
	for {
		pc := p.pop()
		if pc == nil || !peerSpoke(pc.c.nc) {
			return pc
		}
		p.discarded.Add(1)
		pc.c.close()
	}
}

// pop takes the oldest idle connection, counting a miss if there is none.
func (p *pool) pop() *pooled {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	now := p.now()
	recent := !p.lastLogin.IsZero() && now.Sub(p.lastLogin) < p.maxAge
	p.lastLogin = now
	if len(p.idle) == 0 {
		p.missed.Add(1)
		p.lastMiss = now
		if recent {
			p.owed++
		}
		return nil
	}
	pc := p.idle[0]
	p.idle[0] = nil
	p.idle = p.idle[1:]
	p.taken.Add(1)
	p.owed++
	pc.replies = pc.c.replies
	return pc
}

// refill starts the dials that takes asked for. Callers run it once their
// own login is over, so that a dial does not compete with the login for
// the server and the CPU.
func (p *pool) refill() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for ; p.owed > 0; p.owed-- {
		p.fillLocked()
	}
}

// retire closes a taken connection that will not be used with QUIT, in the
// background; close waits for it.
func (p *pool) retire(pc *pooled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		pc.c.close()
		return
	}
	p.wg.Go(func() { quit(pc.c) })
}

// discard counts a pooled connection found dead when taken.
func (p *pool) discard() { p.discarded.Add(1) }

// fillLocked starts one dial for the pool, if there is room and dialling
// is not backing off. Callers hold mu.
func (p *pool) fillLocked() {
	if p.closed || len(p.idle)+p.dialing >= p.size || p.now().Before(p.fillAfter) {
		return
	}
	p.dialing++
	p.wg.Go(p.fill)
}

// fill dials, reads the greeting and the capabilities (with STLS), and
// puts the connection in the pool.
func (p *pool) fill() {
	pc, err := p.b.greeted(p.ctx)
	p.mu.Lock()
	p.dialing--
	if err != nil {
		if p.ctx.Err() == nil {
			p.discarded.Add(1)
			p.fillAfter = p.now().Add(poolFillBackoff)
		}
		p.mu.Unlock()
		return
	}
	if p.closed {
		p.mu.Unlock()
		quit(pc.c)
		return
	}
	pc.born = p.now()
	p.idle = append(p.idle, pc)
	if !p.timerArmed {
		p.timerArmed = true
		p.timer.Reset(p.maxAge)
	}
	p.mu.Unlock()
}

// expire closes the connections that reached maxAge, and replaces them
// while logins still find the pool empty at times.
func (p *pool) expire() {
	p.mu.Lock()
	p.timerArmed = false
	if p.closed {
		p.mu.Unlock()
		return
	}
	now := p.now()
	var old []*pooled
	for len(p.idle) > 0 && now.Sub(p.idle[0].born) >= p.maxAge {
		old = append(old, p.idle[0])
		p.idle[0] = nil
		p.idle = p.idle[1:]
	}
	wanted := !p.lastMiss.IsZero() && now.Sub(p.lastMiss) < p.maxAge
	for range old {
		p.refreshed.Add(1)
		if wanted {
			p.fillLocked()
		}
	}
	if len(p.idle) > 0 {
		p.timerArmed = true
		p.timer.Reset(p.idle[0].born.Add(p.maxAge).Sub(now))
	}
	for _, pc := range old {
		p.wg.Go(func() { quit(pc.c) })
	}
	p.mu.Unlock()
}

// close ends the pool: dials in flight are abandoned, idle connections are
// closed with QUIT. It returns when all of that is done.
func (p *pool) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	p.timer.Stop()
	idle := p.idle
	p.idle = nil
	for _, pc := range idle {
		p.wg.Go(func() { quit(pc.c) })
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// stats returns the pool's counters.
func (p *pool) stats() PoolStats {
	if p == nil {
		return PoolStats{}
	}
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	return PoolStats{Enabled: true, Idle: idle, Taken: p.taken.Load(), Missed: p.missed.Load(),
		Discarded: p.discarded.Load(), Refreshed: p.refreshed.Load()}
}

// greeted connects and brings a connection to where a login can start:
// greeting read, capabilities known, STLS done when configured.
func (b *Backend) greeted(ctx context.Context) (*pooled, error) {
	c := &conn{name: b.o.Name, addr: b.o.Addr, user: "(pool)", timeout: b.o.commandTimeout()}
	if err := b.connect(ctx, c, pop3.Credentials{}); err != nil {
		return nil, err
	}
	resp, err := greeting(ctx, c)
	if err == nil {
		var cp caps
		if cp, err = b.capabilities(ctx, c); err == nil {
			return &pooled{c: c, cp: cp, timestamp: apopTimestamp(resp.Text)}, nil
		}
	}
	c.close()
	return nil, err
}

// quit says QUIT on a connection that never logged in, so the server logs
// an orderly end, and closes it.
func quit(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), poolQuitTimeout)
	defer cancel()
	_, _ = c.command(ctx, "quit", "QUIT")
	c.close()
}

// lostBeforeReply reports whether a login on a pooled connection failed
// because the server had closed it, before any reply to what the login
// sent: the credentials may then go once to a fresh connection. A timeout
// is not such a loss, since the server may be busy with them.
func (pc *pooled) lostBeforeReply() bool {
	c := pc.c
	if c.broken == nil || c.replies != pc.replies {
		return false
	}
	err := c.broken
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}
