package upstream

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// poolServer is a fake legacy server for pool tests: every connection is
// greeted with its own APOP timestamp, offers PIPELINING and logs in any
// user. It counts connections that are greeted and not logged in.
type poolServer struct {
	*pop3test.Server
	conns  atomic.Int32 // accepted
	unauth atomic.Int32 // greeted, no login command yet
	// afterCapa, when set, runs after the n-th connection's CAPA reply
	// and ends that connection.
	afterCapa func(n int32, s *pop3test.Conn) bool
}

func startPoolServer(t *testing.T, afterCapa func(n int32, s *pop3test.Conn) bool) *poolServer {
	t.Helper()
	ps := &poolServer{afterCapa: afterCapa}
	ps.Server = pop3test.Start(t, ps.serve)
	return ps
}

func (ps *poolServer) serve(s *pop3test.Conn) {
	n := ps.conns.Add(1)
	s.Send(fmt.Sprintf("+OK ready <%d.1@fake>", n))
	ps.unauth.Add(1)
	unauth := true
	loggedIn := func() {
		if unauth {
			unauth = false
			ps.unauth.Add(-1)
		}
	}
	defer loggedIn()
	for {
		line, err := s.ReadLine()
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch verb {
		case "CAPA":
			s.Send("+OK", "USER", "UIDL", "TOP", "PIPELINING", ".")
			if ps.afterCapa != nil && ps.afterCapa(n, s) {
				return
			}
		case "USER", "APOP":
			loggedIn()
			s.Send("+OK")
		case "PASS":
			s.Send("+OK logged in")
		case "STAT":
			s.Send("+OK 2 300")
		case "QUIT":
			s.Send("+OK bye")
			return
		default:
			s.Send("-ERR unknown command")
		}
	}
}

func poolOptions(addr string, size int, maxAge time.Duration) Options {
	o := testOptions(addr)
	o.PoolSize, o.PoolMaxAge = size, maxAge
	return o
}

// newPoolBackend returns a Backend whose pool is closed when the test ends.
func newPoolBackend(t *testing.T, o Options) *Backend {
	t.Helper()
	b := New(o)
	t.Cleanup(func() { b.Close() })
	return b
}

// prime plays two logins that find the pool empty, as two clients in a
// row would, so that the pool dials its first connection; it waits for it.
func prime(t *testing.T, b *Backend) {
	t.Helper()
	for range 2 {
		if pc := b.pool.take(); pc != nil {
			t.Fatal("a new pool had a connection")
		}
		b.pool.refill()
	}
	waitIdle(t, b, 1)
}

func waitIdle(t *testing.T, b *Backend, n int) {
	t.Helper()
	pop3test.Eventually(t, fmt.Sprintf("%d idle pooled connections", n), func() bool { return b.PoolStats().Idle == n },
		func() string { return fmt.Sprintf("stats %+v", b.PoolStats()) })
}

func pooledLogin(t *testing.T, m pop3.Mailbox) bool {
	t.Helper()
	var r session.Record
	session.Report(m, &r)
	return r.Pooled
}

// A login takes a greeted connection from the pool: it writes only its own
// pipelined commands, and the pool dials a replacement.
func TestPoolHit(t *testing.T) {
	srv := startPoolServer(t, nil)
	var log writeLog
	o := poolOptions(srv.Addr, 2, time.Minute)
	o.Dial = log.dial
	b := newPoolBackend(t, o)
	prime(t, b)
	log.take()

	ctx := context.Background()
	m, err := b.Open(ctx, testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	if n, size, err := m.Stat(ctx); err != nil || n != 2 || size != 300 {
		t.Errorf("Stat = %d %d %v", n, size, err)
	}
	if got, want := log.take(), []string{"USER alice\r\nPASS se cret\r\nSTAT\r\n"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a pooled login wrote %q, want %q", got, want)
	}
	if !pooledLogin(t, m) {
		t.Error("the session record does not say the login was pooled")
	}
	waitIdle(t, b, 1)
	if s := b.PoolStats(); s.Taken != 1 || s.Missed != 2 || s.Discarded != 0 {
		t.Errorf("stats %+v, want 1 taken, 2 missed", s)
	}
	if srv.Count("CAPA") != 1 {
		t.Errorf("CAPA sent %d times, want once (remembered)", srv.Count("CAPA"))
	}
}

// A pooled connection the server has closed is discarded when a login
// takes it, and the login goes through on a fresh connection. Over a plain
// socket the closed connection is seen before anything is written to it;
// through a wrapped one (no socket to look at) the login writes, reads the
// end of the connection instead of a reply, and is retried.
func TestPoolDeadConnectionRetried(t *testing.T) {
	for _, wrapped := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrapped=%v", wrapped), func(t *testing.T) {
			kill := make(chan struct{})
			srv := startPoolServer(t, func(n int32, s *pop3test.Conn) bool {
				if n != 1 {
					return false
				}
				<-kill // the pooled connection, closed as by a server's timeout
				return true
			})
			o := poolOptions(srv.Addr, 1, time.Minute)
			var log writeLog
			if wrapped {
				o.Dial = log.dial
			}
			b := newPoolBackend(t, o)
			prime(t, b)
			close(kill)
			pop3test.Eventually(t, "the server to close the pooled connection", func() bool { return srv.unauth.Load() == 0 })

			m, err := b.Open(context.Background(), testCreds())
			if err != nil {
				t.Fatalf("Open after the pooled connection died: %v", err)
			}
			defer m.Close()
			// Seen closed at the take, the connection may already have a
			// replacement in the pool; after a retry the login is fresh.
			if wrapped && pooledLogin(t, m) {
				t.Error("the session record says pooled for a login retried on a fresh connection")
			}
			if s := b.PoolStats(); s.Discarded != 1 {
				t.Errorf("stats %+v, want 1 discarded", s)
			}
			// Seen closed at the take, the login takes again and finds
			// the pool empty; a retry after writing misses once less.
			if s := b.PoolStats(); !wrapped && s.Missed != 3 {
				t.Errorf("stats %+v, want 3 missed: the dead connection was not seen at the take", s)
			}
			// The fresh connection is the only one that read the login.
			if got := srv.Count("USER"); got != 1 {
				t.Errorf("the server read USER %d times, want once", got)
			}
			if logins := strings.Count(strings.Join(log.take(), ""), "USER alice"); wrapped && logins != 2 {
				t.Errorf("USER written %d times, want twice: on the dead connection, then on a fresh one", logins)
			}
		})
	}
}

// A pooled connection that answered part of the login is not retried:
// the server has the credentials, and they are never sent twice.
func TestPoolNoRetryAfterReply(t *testing.T) {
	var pooled atomic.Bool
	srv := pop3test.Start(t, func(s *pop3test.Conn) {
		s.Send("+OK ready <1.1@fake>")
		if !pooled.Load() {
			s.Expect("CAPA")
			s.Send("+OK", "USER", "PIPELINING", ".")
			pooled.Store(true)
		}
		line, err := s.ReadLine()
		if err == nil && strings.HasPrefix(line, "USER") {
			s.Send("+OK") // and hang up before PASS is answered
		}
	})
	b := newPoolBackend(t, poolOptions(srv.Addr, 1, time.Minute))
	prime(t, b)
	_, err := b.Open(context.Background(), testCreds())
	wantCode(t, err, pop3.CodeSysTemp)
	if s := b.PoolStats(); s.Taken != 1 || s.Discarded != 0 {
		t.Errorf("stats %+v, want 1 taken, none discarded", s)
	}
	if got := srv.Count("USER"); got != 1 {
		t.Errorf("USER sent %d times, want once", got)
	}
}

// A pooled connection that waited its maximum age is closed with QUIT,
// and not replaced when no login has wanted one since.
func TestPoolMaxAgeQuits(t *testing.T) {
	srv := startPoolServer(t, nil)
	b := newPoolBackend(t, poolOptions(srv.Addr, 2, 50*time.Millisecond))
	prime(t, b)
	pop3test.Eventually(t, "the pooled connection to be refreshed", func() bool { return b.PoolStats().Refreshed == 1 })
	pop3test.Eventually(t, "QUIT at the server", func() bool { return srv.Count("QUIT") == 1 })
	if s := b.PoolStats(); s.Idle != 0 || s.Taken != 0 {
		t.Errorf("stats %+v after the refresh of an unwanted connection", s)
	}
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("the server saw %d connections, want 1: an unwanted connection is not replaced", got)
	}
}

// A connection that expires while logins keep finding the pool empty is
// replaced.
func TestPoolMaxAgeReplacesWanted(t *testing.T) {
	srv := startPoolServer(t, nil)
	b := newPoolBackend(t, poolOptions(srv.Addr, 1, 100*time.Millisecond))
	prime(t, b)
	b.pool.mu.Lock()
	b.pool.lastMiss = time.Now().Add(time.Hour) // as if logins kept missing
	b.pool.mu.Unlock()
	pop3test.Eventually(t, "a refresh", func() bool { return b.PoolStats().Refreshed >= 1 })
	pop3test.Eventually(t, "a replacement", func() bool { return srv.conns.Load() >= 2 })
	waitIdle(t, b, 1)
	pop3test.Eventually(t, "QUIT to the expired connection", func() bool { return srv.Count("QUIT") >= 1 })
}

// fillTo plays pairs of logins in quick succession, which take a pooled
// connection (and QUIT it) or find none, until the pool holds n; it
// returns how many it took. Logins one at a time never grow the pool
// beyond one connection: each taken one is replaced.
func fillTo(t *testing.T, b *Backend, n int) int {
	t.Helper()
	took := 0
	pop3test.Eventually(t, fmt.Sprintf("%d idle pooled connections", n), func() bool {
		if b.PoolStats().Idle >= n {
			return true
		}
		for range 2 {
			if pc := b.pool.take(); pc != nil {
				quit(pc.c)
				took++
			}
		}
		b.pool.refill()
		return false
	})
	return took
}

// However many logins arrive at once, the pool holds no more than its size.
func TestPoolCap(t *testing.T) {
	srv := startPoolServer(t, nil)
	b := newPoolBackend(t, poolOptions(srv.Addr, 2, time.Minute))
	ctx := context.Background()
	for range 4 {
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				m, err := b.Open(ctx, testCreds())
				if err != nil {
					t.Errorf("Open: %v", err)
					return
				}
				m.Close()
			})
		}
		wg.Wait()
	}
	waitIdle(t, b, 2)
	pop3test.Eventually(t, "2 greeted connections at the server", func() bool { return srv.unauth.Load() == 2 })
	// Let any dial beyond the cap land, if one had been started.
	time.Sleep(100 * time.Millisecond)
	if got := srv.unauth.Load(); got != 2 {
		t.Errorf("the server holds %d greeted connections, want 2", got)
	}
	if s := b.PoolStats(); s.Taken == 0 {
		t.Errorf("stats %+v: no login used the pool", s)
	}
}

// Close says QUIT on every pooled connection.
func TestPoolCloseQuits(t *testing.T) {
	srv := startPoolServer(t, nil)
	b := New(poolOptions(srv.Addr, 2, time.Minute))
	prime(t, b)
	took := fillTo(t, b, 2)
	pop3test.Eventually(t, "QUIT from the test", func() bool { return srv.Count("QUIT") == took })
	b.Close()
	pop3test.Eventually(t, "QUIT on both", func() bool { return srv.Count("QUIT") == took+2 })
	m, err := b.Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	m.Close()
	if s := b.PoolStats(); s.Idle != 0 {
		t.Errorf("stats %+v after Close", s)
	}
}

// APOP: a client is shown the pooled connection's timestamp and its digest
// goes over that connection.
func TestPoolGreet(t *testing.T) {
	srv := startPoolServer(t, nil)
	o := poolOptions(srv.Addr, 1, time.Minute)
	o.APOP = true
	b := newPoolBackend(t, o)
	prime(t, b)
	ctx := context.Background()
	g, err := b.Greet(ctx, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4000}, nil)
	if err != nil {
		t.Fatalf("Greet: %v", err)
	}
	if g.Timestamp() != "<1.1@fake>" {
		t.Errorf("timestamp %q, want the pooled connection's <1.1@fake>", g.Timestamp())
	}
	m, err := b.Open(ctx, pop3.Credentials{Mechanism: pop3.MechAPOP, User: "alice", Digest: "0123456789abcdef0123456789abcdef", Greeted: g})
	if err != nil {
		t.Fatalf("Open with APOP: %v", err)
	}
	defer m.Close()
	if !pooledLogin(t, m) {
		t.Error("the session record does not say the login was pooled")
	}
	if got := srv.Count("APOP"); got != 1 {
		t.Errorf("APOP sent %d times", got)
	}
}

// No pool with a PROXY header: it must name a client not known yet.
func TestPoolOffWithProxyProtocol(t *testing.T) {
	o := poolOptions("127.0.0.1:110", 4, time.Minute)
	o.ProxyProtocol = true
	b := New(o)
	defer b.Close()
	if s := b.PoolStats(); s.Enabled {
		t.Errorf("a backend with proxy_protocol keeps a pool: %+v", s)
	}
}

// A pooled connection whose greeting has no APOP timestamp cannot serve
// Greet: it is closed with QUIT, and Greet fails as it does without a pool.
func TestPoolGreetWithoutTimestamp(t *testing.T) {
	srv := pop3test.Start(t, (&pop3test.Script{Replies: map[string]pop3test.Reply{
		"CAPA": pop3test.Lines("+OK", "USER", "."),
		"QUIT": {Text: "+OK bye\r\n", Close: true},
	}}).Serve)
	o := poolOptions(srv.Addr, 1, time.Minute)
	o.APOP = true
	b := newPoolBackend(t, o)
	prime(t, b)
	_, err := b.Greet(context.Background(), &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4000}, nil)
	if err == nil || !strings.Contains(err.Error(), "timestamp") {
		t.Fatalf("Greet = %v, want an error about the missing timestamp", err)
	}
	pop3test.Eventually(t, "QUIT on the pooled connection", func() bool { return srv.Count("QUIT") == 1 })
}
