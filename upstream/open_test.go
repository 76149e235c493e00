package upstream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

func TestOpenUserPass(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("NOOP")
		s.Send("+OK")
		s.Expect("QUIT")
		s.Send("+OK bye")
	})
	if err := m.Noop(context.Background()); err != nil {
		t.Fatalf("Noop: %v", err)
	}
	res, err := m.Update(context.Background())
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := pop3.UpdateResult{LeftMsgs: 2, LeftBytes: 300}
	if res != want {
		t.Errorf("Update = %+v, want %+v", res, want)
	}
}

func TestOpenGreetingErr(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("-ERR [SYS/PERM] too many connections from 192.0.2.7")
	})
	_, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	pe := wantCode(t, err, pop3.CodeSysTemp)
	if strings.Contains(pe.Text, "192.0.2.7") {
		t.Errorf("client text %q leaks the server's text", pe.Text)
	}
	for _, s := range []string{"legacy", "alice", "greeting", addr} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}

func TestOpenConnectionRefused(t *testing.T) {
	addr := pop3test.ClosedAddr(t)
	_, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	wantCode(t, err, pop3.CodeSysTemp)
	if !strings.Contains(err.Error(), "connect") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the step and address", err)
	}
}

func TestOpenNoGreetingTimesOut(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.ExpectEOF() // never greet; wait for the client to give up
	})
	o := testOptions(addr)
	o.CommandTimeout = 100 * time.Millisecond
	_, err := New(o).Open(context.Background(), testCreds())
	wantCode(t, err, pop3.CodeSysTemp)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
}

func TestOpenCancelledWhileWaiting(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.ExpectEOF()
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := New(testOptions(addr)).Open(ctx, testCreds())
	wantCode(t, err, pop3.CodeSysTemp)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled in the chain", err)
	}
}

func TestOpenLoginRefused(t *testing.T) {
	for _, tc := range []struct {
		reply     string
		code      pop3.Code
		text      string
		temporary bool
	}{
		{"-ERR [AUTH] invalid user name or password", pop3.CodeAuth, "invalid user name or password", false},
		{"-ERR bad login", pop3.CodeAuth, "bad login", false},
		{"-ERR Authentication failed (bad password?)", pop3.CodeAuth, "Authentication failed (bad password?)", false},
		{"-ERR Password supplied for \"alice\" is incorrect.", pop3.CodeAuth, "Password supplied for \"alice\" is incorrect.", false},
		// Only the server's [AUTH] or words about the credentials make a
		// refusal [AUTH]: an overload or an unknown refusal is temporary.
		{"-ERR Connection queue full", pop3.CodeSysTemp, "Connection queue full", true},
		{"-ERR", pop3.CodeSysTemp, "login refused by the mail server", true},
		{"-ERR [IN-USE] mailbox locked by another session", pop3.CodeInUse, "mailbox locked by another session", true},
		{"-ERR [SYS/TEMP] try later", pop3.CodeSysTemp, "try later", true},
		{"-ERR [SYS/PERM] account disabled", pop3.CodeSysPerm, "account disabled", false},
		{"-ERR [X-ODD] odd \x01\xff", pop3.CodeSysTemp, "odd ??", true},
		{"-ERR [X-ODD] wrong password", pop3.CodeAuth, "wrong password", false},
	} {
		for _, pipelined := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s pipelined=%v", tc.reply, pipelined), func(t *testing.T) {
				addr := startFake(t, func(s *pop3test.Conn) {
					s.Send("+OK ready")
					s.Expect("CAPA")
					if pipelined {
						s.Send("+OK", "USER", "PIPELINING", ".")
						pipelinedLogin(s, "+OK", tc.reply, "-ERR unknown command")
					} else {
						s.Send("-ERR what?")
						s.Expect("USER alice")
						s.Send("+OK")
						s.Expect("PASS se cret")
						s.Send(tc.reply)
					}
					s.ExpectEOF()
				})
				_, err := New(testOptions(addr)).Open(context.Background(), testCreds())
				pe := wantCode(t, err, tc.code)
				if pe.Text != tc.text {
					t.Errorf("text = %q, want %q", pe.Text, tc.text)
				}
				if pe.Temporary() != tc.temporary {
					t.Errorf("Temporary() = %v", pe.Temporary())
				}
				if !strings.Contains(err.Error(), "login") || !strings.Contains(err.Error(), "legacy") {
					t.Errorf("error %q does not name the backend and step", err)
				}
			})
		}
	}
}

func TestOpenLongServerTextTruncated(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK ready")
		s.Expect("CAPA")
		s.Send("-ERR")
		s.Expect("USER alice")
		s.Send("+OK")
		s.Expect("PASS se cret")
		s.Send("-ERR " + strings.Repeat("x", 400))
	})
	_, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	pe := wantCode(t, err, pop3.CodeSysTemp)
	if len(pe.Text) != maxServerText {
		t.Errorf("len(text) = %d, want %d", len(pe.Text), maxServerText)
	}
}

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func TestOpenAuthPlainWhenOnlySASL(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK ready")
		s.Expect("CAPA")
		s.Send("+OK", "SASL PLAIN LOGIN", "UIDL", ".")
		s.Expect("AUTH PLAIN " + plainIR("alice", "se cret"))
		s.Send("+OK welcome")
		s.Expect("STAT")
		s.Send("+OK 0 0")
		s.ExpectEOF()
	})
	m, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	m.Close()
}

func TestOpenAuthPlainLongCredentials(t *testing.T) {
	cr := testCreds()
	cr.Password = strings.Repeat("p", 300)
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK ready")
		s.Expect("CAPA")
		s.Send("+OK", "SASL PLAIN", ".")
		s.Expect("AUTH PLAIN")
		s.Send("+ ")
		s.Expect(plainIR("alice", cr.Password))
		s.Send("+OK")
		s.Expect("STAT")
		s.Send("+OK 1 10")
		s.ExpectEOF()
	})
	m, err := New(testOptions(addr)).Open(context.Background(), cr)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	m.Close()
}

func TestOpenRefusesAPOPWithoutDialling(t *testing.T) {
	b := New(testOptions(pop3test.ClosedAddr(t)))
	if b.SupportsAPOP() {
		t.Error("SupportsAPOP() = true")
	}
	cr := testCreds()
	cr.Mechanism, cr.Digest, cr.Timestamp = pop3.MechAPOP, "c4c9334bac560ecc979e58001b3e22fb", "<1.2@x>"
	_, err := b.Open(context.Background(), cr)
	pe := wantCode(t, err, pop3.CodeAuth)
	if !strings.Contains(pe.Text, "APOP") {
		t.Errorf("text = %q, want it to name APOP", pe.Text)
	}
}

func TestOpenRefusesInjectedCredentials(t *testing.T) {
	for _, cr := range []pop3.Credentials{
		{Mechanism: pop3.MechUser, User: "alice\r\nDELE 1", Password: "x"},
		{Mechanism: pop3.MechUser, User: "alice", Password: "x\nQUIT"},
		{Mechanism: pop3.MechPlain, User: "alice", Password: "a\x00b"},
		{Mechanism: pop3.MechUser, User: "", Password: "x"},
	} {
		// A closed port: any attempt to connect would fail as SYS/TEMP.
		_, err := New(testOptions(pop3test.ClosedAddr(t))).Open(context.Background(), cr)
		wantCode(t, err, pop3.CodeAuth)
	}
}

// A refused USER is followed by AUTH PLAIN when CAPA offers SASL PLAIN, or
// when there was no CAPA to say whether AUTH exists; then the USER refusal
// is reported, as it says more than "unknown command". A server that lists
// USER but no SASL gets no AUTH attempt; nor does a USER refusal with a
// response code, which is already the answer.
func TestOpenUserRefused(t *testing.T) {
	for _, tc := range []struct {
		capa []string // nil: CAPA is refused
		user string   // the reply to USER
		auth string   // the reply to AUTH PLAIN; empty: none is expected
		code pop3.Code
		text string
	}{
		{[]string{"USER", "SASL PLAIN"}, "-ERR plaintext USER disabled", "-ERR [AUTH] wrong password", pop3.CodeAuth, "wrong password"},
		{nil, "-ERR no mailbox here", "-ERR unknown command", pop3.CodeSysTemp, "no mailbox here"},
		{nil, "-ERR no such user", "-ERR unknown command", pop3.CodeAuth, "no such user"},
		{[]string{"USER"}, "-ERR unknown user", "", pop3.CodeAuth, "unknown user"},
		{[]string{"USER", "SASL PLAIN"}, "-ERR [LOGIN-DELAY] wait 15 minutes", "", pop3.CodeLoginDelay, "wait 15 minutes"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			addr := startFake(t, func(s *pop3test.Conn) {
				s.Send("+OK ready")
				s.Expect("CAPA")
				if tc.capa == nil {
					s.Send("-ERR unknown command")
				} else {
					s.Send(append(append([]string{"+OK"}, tc.capa...), ".")...)
				}
				s.Expect("USER alice")
				s.Send(tc.user)
				if tc.auth != "" {
					s.Expect("AUTH PLAIN " + plainIR("alice", "se cret"))
					s.Send(tc.auth)
				}
				s.ExpectEOF()
			})
			_, err := New(testOptions(addr)).Open(context.Background(), testCreds())
			if pe := wantCode(t, err, tc.code); pe.Text != tc.text {
				t.Errorf("text = %q, want %q", pe.Text, tc.text)
			}
		})
	}
}

// TestGreetThenAPOP: Greet keeps the server's greeting and its timestamp;
// Open with that connection relays the client's APOP digest unchanged.
// Without a greeted connection of its own, the Backend refuses APOP.
func TestGreetThenAPOP(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>")
		s.Expect("CAPA")
		s.Send("+OK", "TOP", "USER", "UIDL", ".")
		s.Expect("APOP alice c4c9334bac560ecc979e58001b3e22fb")
		s.Send("+OK maildrop has 1 message")
		s.Expect("STAT")
		s.Send("+OK 1 100")
		s.Expect("QUIT")
		s.Send("+OK bye")
	})
	b, g := greetFake(t, addr)
	if g.Timestamp() != "<1896.697170952@dbc.mtview.ca.us>" {
		t.Errorf("timestamp %q", g.Timestamp())
	}
	cr := pop3.Credentials{Mechanism: pop3.MechAPOP, User: "alice", Digest: "c4c9334bac560ecc979e58001b3e22fb"}
	_, err := New(b.o).Open(context.Background(), cr)
	wantCode(t, err, pop3.CodeAuth) // no greeted connection of its own
	cr.Greeted = g
	m, err := b.Open(context.Background(), cr)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := pop3.StatusOf(m, "LOGIN"); !ok || r.Text != "maildrop has 1 message" {
		t.Errorf("login status %q, %v", r, ok)
	}
	if _, err := m.Update(context.Background()); err != nil {
		t.Error(err)
	}
}

// greetFake returns a Backend relaying APOP to the fake at addr, and a
// connection greeted by it.
func greetFake(t *testing.T, addr string) (*Backend, pop3.Greeted) {
	t.Helper()
	o := testOptions(addr)
	o.APOP = true
	b := New(o)
	g, err := b.Greet(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, g
}

// TestGreetNeedsTimestamp: a server that greets without a timestamp, or a
// backend that does not relay APOP, gives no greeted connection.
func TestGreetNeedsTimestamp(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK POP3 ready")
		s.ExpectEOF()
	})
	o := testOptions(addr)
	if _, err := New(o).Greet(context.Background(), nil, nil); err == nil {
		t.Error("Greet succeeded without apop")
	}
	o.APOP = true
	if _, err := New(o).Greet(context.Background(), nil, nil); err == nil {
		t.Error("Greet succeeded without a timestamp in the greeting")
	}
}

// TestGreetThenCRAM: on a greeted connection whose server offers CRAM-MD5,
// Challenge starts AUTH CRAM-MD5 and returns the server's challenge; Open
// sends the client's response and logs in.
func TestGreetThenCRAM(t *testing.T) {
	const challenge = "<1896.697170952@postoffice.reston.mci.net>"
	addr := startFake(t, func(s *pop3test.Conn) {
		s.Send("+OK POP3 ready <1.2@fake>")
		s.Expect("CAPA")
		s.Send("+OK", "USER", "SASL PLAIN CRAM-MD5", ".")
		s.Expect("AUTH CRAM-MD5")
		s.Send("+ " + base64.StdEncoding.EncodeToString([]byte(challenge)))
		s.Expect(base64.StdEncoding.EncodeToString([]byte("tim b913a602c7eda7a495b4e6e7334d3890")))
		s.Send("+OK Logged in.")
		s.Expect("STAT")
		s.Send("+OK 0 0")
		s.ExpectEOF()
	})
	b, g := greetFake(t, addr)
	ch := g.(pop3.SASLChallenger)
	if !ch.Offers(context.Background(), pop3.MechCRAMMD5) {
		t.Fatal("CRAM-MD5 not offered")
	}
	got, err := ch.Challenge(context.Background(), pop3.MechCRAMMD5)
	if err != nil || got != challenge {
		t.Fatalf("Challenge = %q, %v", got, err)
	}
	m, err := b.Open(context.Background(), pop3.Credentials{Mechanism: pop3.MechCRAMMD5, User: "tim",
		Digest: "b913a602c7eda7a495b4e6e7334d3890", Timestamp: challenge, Greeted: g})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
}
