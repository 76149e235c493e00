package upstream

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
)

// greetAndCapa plays a greeting and a CAPA answered with reply.
func greetAndCapa(reply ...string) func(s *pop3test.Conn) bool {
	return func(s *pop3test.Conn) bool {
		s.Send("+OK ready")
		if !s.Expect("CAPA") {
			return false
		}
		s.Send(reply...)
		return true
	}
}

// probed is a login that asks CAPA; cached one that must not.
func probed(capa func(s *pop3test.Conn) bool) func(s *pop3test.Conn) {
	return func(s *pop3test.Conn) {
		if capa(s) && userPass(s) {
			s.ExpectEOF()
		}
	}
}

func cached(s *pop3test.Conn) {
	s.Send("+OK ready")
	if userPass(s) {
		s.ExpectEOF()
	}
}

// openClose logs in through b and drops the session.
func openClose(t *testing.T, b *Backend) *mailbox {
	t.Helper()
	m, err := b.Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	m.Close()
	return m.(*mailbox)
}

// A second login on one Backend goes straight to USER, with the
// capabilities the first learnt, whether the server answered CAPA or, like
// popa3d, refused it.
func TestSecondLoginSkipsCapa(t *testing.T) {
	for name, capa := range map[string]func(s *pop3test.Conn) bool{
		"answered": greetAndCapa("+OK", "USER", "TOP", "."),
		"refused":  greetAndCapa("-ERR unknown command"),
	} {
		t.Run(name, func(t *testing.T) {
			b := New(testOptions(startScripts(t, probed(capa), cached)))
			first, second := openClose(t, b), openClose(t, b)
			if first.caps != second.caps {
				t.Errorf("second login's caps = %+v, want the first's %+v", second.caps, first.caps)
			}
		})
	}
}

func TestCapsExpire(t *testing.T) {
	capa := greetAndCapa("+OK", "USER", ".")
	b := New(testOptions(startScripts(t, probed(capa), cached, probed(capa), cached)))
	now := time.Unix(1e9, 0)
	b.caps.now = func() time.Time { return now }
	openClose(t, b)
	now = now.Add(capsTTL - time.Second)
	openClose(t, b)
	now = now.Add(time.Second)
	openClose(t, b) // expired: CAPA again
	openClose(t, b)
}

// Any failed login, even a wrong password, makes the next one ask CAPA.
func TestFailedLoginForgetsCaps(t *testing.T) {
	capa := greetAndCapa("+OK", "USER", ".")
	for name, fail := range map[string]func(s *pop3test.Conn){
		"wrong password": func(s *pop3test.Conn) {
			s.Send("+OK ready")
			s.Expect("USER alice")
			s.Send("+OK")
			s.Expect("PASS se cret")
			s.Send("-ERR [AUTH] invalid password")
			s.ExpectEOF()
		},
		"greeting refused": func(s *pop3test.Conn) { s.Send("-ERR busy") },
	} {
		t.Run(name, func(t *testing.T) {
			b := New(testOptions(startScripts(t, probed(capa), fail, probed(capa))))
			openClose(t, b)
			if _, err := b.Open(context.Background(), testCreds()); err == nil {
				t.Fatal("second Open succeeded")
			}
			openClose(t, b)
		})
	}
}

// Concurrent logins share one cache; once it is filled, no login asks CAPA.
func TestCapsCacheConcurrentLogins(t *testing.T) {
	var capas atomic.Int32
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK ready")
		cmd, _ := s.ReadLine()
		if cmd == "CAPA\r\n" {
			capas.Add(1)
			s.Send("+OK", "USER", "PIPELINING", ".")
			cmd, _ = s.ReadLine()
		}
		if cmd != "USER alice\r\n" {
			t.Errorf("fake server got %q, want USER", cmd)
			return
		}
		if s.Expect("PASS se cret") && s.Expect("STAT") {
			s.Send("+OK", "+OK", "+OK 2 300")
			s.ExpectEOF()
		}
	})
	b := New(testOptions(addr))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			m, err := b.Open(context.Background(), testCreds())
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			m.Close()
		})
	}
	wg.Wait()
	n := capas.Load()
	if n < 1 {
		t.Fatal("no login asked CAPA")
	}
	if m := openClose(t, b); m.count != 2 || capas.Load() != n {
		t.Errorf("login after the others: %d messages, %d CAPA (was %d)", m.count, capas.Load(), n)
	}
}
