package upstream

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
)

// checkPooledLogin logs in on a pooled connection and checks the maildrop
// against want messages.
func checkPooledLogin(t *testing.T, b *Backend, cr pop3.Credentials, want int) {
	t.Helper()
	ctx := context.Background()
	taken := b.PoolStats().Taken
	m, err := b.Open(ctx, cr)
	if err != nil {
		t.Fatalf("Open on a pooled connection: %v", err)
	}
	defer m.Close()
	if n, _, err := m.Stat(ctx); err != nil || n != want {
		t.Errorf("Stat = %d, %v; want %d messages", n, err, want)
	}
	if _, err := m.Update(ctx); err != nil {
		t.Errorf("Update: %v", err)
	}
	if !pooledLogin(t, m) || b.PoolStats().Taken != taken+1 {
		t.Errorf("the login did not use the pool: stats %+v", b.PoolStats())
	}
}

// keepWanted makes the pool replace what expires, as it does while logins
// keep finding it empty.
func keepWanted(b *Backend) {
	b.pool.mu.Lock()
	b.pool.lastMiss = time.Now().Add(time.Hour)
	b.pool.mu.Unlock()
}

// Against Dovecot, plain and after STLS: logins go through pooled
// connections, and pooled connections that reach their maximum age are
// closed with QUIT and replaced by ones a login can use.
func TestPoolDovecot(t *testing.T) {
	files := testpeer.NewTLSFiles(t)
	cr := pop3.Credentials{Mechanism: pop3.MechUser, User: "alice", Password: "s3cret-pw"}
	srv := testpeer.StartDovecot(t, testpeer.DovecotOptions{TLS: &files, Users: []testpeer.User{
		{Name: cr.User, Password: cr.Password, Mbox: testpeer.SimpleMbox(3)},
	}})
	for _, stls := range []bool{false, true} {
		name := "plain"
		if stls {
			name = "stls"
		}
		t.Run(name, func(t *testing.T) {
			o := poolOptions(srv.Addr, 2, time.Second)
			if stls {
				o.STLS, o.TLSConfig = true, &tls.Config{InsecureSkipVerify: true}
			}
			b := newPoolBackend(t, o)
			prime(t, b)
			keepWanted(b)
			checkPooledLogin(t, b, cr, 3)
			if stls {
				waitIdle(t, b, 1)
				b.pool.mu.Lock()
				_, isTLS := b.pool.idle[0].c.nc.(*tls.Conn)
				b.pool.mu.Unlock()
				if !isTLS {
					t.Error("a pooled connection is not past STLS")
				}
			}
			pop3test.Eventually(t, "two generations of refreshed connections", func() bool { return b.PoolStats().Refreshed >= 2 },
				func() string { return fmt.Sprintf("stats %+v", b.PoolStats()) })
			waitIdle(t, b, 1)
			checkPooledLogin(t, b, cr, 3)
		})
	}
}

// APOP through a pooled greeting: the client's digest is over the
// timestamp of the Dovecot connection greeted ahead of it.
func TestPoolDovecotAPOP(t *testing.T) {
	const user, secret = "rachel", "apop-secret"
	srv := testpeer.StartDovecot(t, testpeer.DovecotOptions{APOP: true, Users: []testpeer.User{
		{Name: user, Password: secret, Mbox: testpeer.SimpleMbox(2)},
	}})
	o := poolOptions(srv.Addr, 1, time.Minute)
	o.APOP = true
	b := newPoolBackend(t, o)
	prime(t, b)
	ctx := context.Background()
	g, err := b.Greet(ctx, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, nil)
	if err != nil {
		t.Fatalf("Greet: %v", err)
	}
	if b.PoolStats().Taken != 1 {
		t.Fatalf("Greet did not take the pooled connection: %+v", b.PoolStats())
	}
	sum := md5.Sum([]byte(g.Timestamp() + secret))
	m, err := b.Open(ctx, pop3.Credentials{Mechanism: pop3.MechAPOP, User: user, Digest: hex.EncodeToString(sum[:]), Greeted: g})
	if err != nil {
		t.Fatalf("APOP on the pooled connection: %v", err)
	}
	defer m.Close()
	if n, _, err := m.Stat(ctx); err != nil || n != 2 {
		t.Errorf("Stat = %d, %v", n, err)
	}
	if !pooledLogin(t, m) {
		t.Error("the session record does not say pooled")
	}
}

// popa3d (a process per connection, no CAPA, no APOP): pooled logins work,
// and expired pooled connections are closed with QUIT and replaced.
func TestPoolPopa3d(t *testing.T) {
	const pass = "p0pa3d-pw"
	srv := testpeer.StartPopa3d(t, []testpeer.User{{Name: "bob", Password: pass, Mbox: testpeer.SimpleMbox(3)}})
	cr := pop3.Credentials{Mechanism: pop3.MechUser, User: srv.Login("bob"), Password: pass}
	b := newPoolBackend(t, poolOptions(srv.Addr, 2, time.Second))
	prime(t, b)
	keepWanted(b)
	checkPooledLogin(t, b, cr, 3)
	pop3test.Eventually(t, "two generations of refreshed connections", func() bool { return b.PoolStats().Refreshed >= 2 },
		func() string { return fmt.Sprintf("stats %+v", b.PoolStats()) })
	waitIdle(t, b, 1)
	checkPooledLogin(t, b, cr, 3)
	if s := b.PoolStats(); s.Discarded != 0 {
		t.Errorf("stats %+v: popa3d closed a pooled connection before its maximum age", s)
	}
}
