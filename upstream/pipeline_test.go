package upstream

import (
	"context"
	"reflect"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// pipeliningCapa is a greeting and a CAPA that offers PIPELINING.
var pipeliningCapa = greetAndCapa("+OK", "USER", "PIPELINING", "SASL PLAIN", ".")

const loginBatch = "USER alice\r\nPASS se cret\r\nSTAT\r\n"

// With PIPELINING, USER, PASS and STAT go out in one write; with the
// capabilities cached, that write is all a login sends.
func TestPipelinedLogin(t *testing.T) {
	var log writeLog
	o := testOptions(startScripts(t,
		func(s *pop3test.Conn) {
			if pipeliningCapa(s) && pipelinedLogin(s, "+OK", "+OK logged in", "+OK 2 300") {
				s.Expect("QUIT")
				s.Send("+OK")
			}
		},
		func(s *pop3test.Conn) {
			s.Send("+OK ready")
			if pipelinedLogin(s, "+OK", "+OK", "+OK 5 1000 extra") {
				s.ExpectEOF()
			}
		}))
	o.Dial = log.dial
	b := New(o)
	m, err := b.Open(context.Background(), testCreds())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if res, err := m.Update(context.Background()); err != nil || res.LeftMsgs != 2 || res.LeftBytes != 300 {
		t.Errorf("Update = %+v, %v; want 2 messages, 300 octets", res, err)
	}
	if got, want := log.take(), []string{"CAPA\r\n", loginBatch, "QUIT\r\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("first login wrote %q, want %q", got, want)
	}
	if m := openClose(t, b); m.count != 5 || m.size != 1000 {
		t.Errorf("second login: STAT %d %d, want 5 1000", m.count, m.size)
	}
	if got := log.take(); !reflect.DeepEqual(got, []string{loginBatch}) {
		t.Errorf("cached login wrote %q, want only %q", got, loginBatch)
	}
}

// After a refused USER the PASS and STAT replies are read before anything
// else, so an AUTH PLAIN fallback runs on a connection in sync.
func TestPipelinedUserRefused(t *testing.T) {
	refusals := []string{"-ERR no mailbox here", "-ERR no USER", "-ERR not logged in"}
	authPlain := func(s *pop3test.Conn) bool { return s.Expect("AUTH PLAIN " + plainIR("alice", "se cret")) }
	for _, tc := range []struct {
		name    string
		capa    []string
		replies []string
		rest    func(s *pop3test.Conn)
		code    pop3.Code
		text    string // empty: the login succeeds
	}{
		{"no SASL", []string{"USER"}, refusals, nil, pop3.CodeSysTemp, "no mailbox here"},
		{"response code", []string{"USER", "SASL PLAIN"},
			[]string{"-ERR [LOGIN-DELAY] wait", "-ERR", "-ERR"}, nil, pop3.CodeLoginDelay, "wait"},
		{"hang-up", []string{"USER"}, refusals[:1], nil, pop3.CodeSysTemp, "no mailbox here"},
		{"AUTH PLAIN accepted", []string{"USER", "SASL PLAIN"}, refusals,
			func(s *pop3test.Conn) {
				if authPlain(s) {
					s.Send("+OK")
					s.Expect("STAT")
					s.Send("+OK 1 10")
				}
			}, pop3.CodeNone, ""},
		{"AUTH PLAIN refused", []string{"USER", "SASL PLAIN"}, refusals,
			func(s *pop3test.Conn) {
				if authPlain(s) {
					s.Send("-ERR [AUTH] wrong password")
				}
			}, pop3.CodeAuth, "wrong password"},
		{"PASS accepted after refused USER", []string{"USER", "SASL PLAIN"},
			[]string{"-ERR", "+OK", "+OK 1 10"}, nil, pop3.CodeSysTemp, pop3.ErrBackendTemporary.Text},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capa := greetAndCapa(append(append([]string{"+OK", "PIPELINING"}, tc.capa...), ".")...)
			addr := startFake(t, func(s *pop3test.Conn) {
				if !capa(s) || !pipelinedLogin(s, tc.replies...) {
					return
				}
				if tc.rest != nil {
					tc.rest(s)
				}
				if len(tc.replies) == 3 {
					s.ExpectEOF()
				}
			})
			m, err := New(testOptions(addr)).Open(context.Background(), testCreds())
			if tc.text == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				m.Close()
				return
			}
			if pe := wantCode(t, err, tc.code); pe.Text != tc.text {
				t.Errorf("text = %q, want %q", pe.Text, tc.text)
			}
		})
	}
}

// A server may hang up after a wrong password instead of answering the
// STAT behind it: that is still a refused login, not a broken server.
func TestPipelinedPassRefusedThenHangUp(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		if pipeliningCapa(s) {
			pipelinedLogin(s, "+OK", "-ERR [AUTH] invalid password")
		}
	})
	_, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	if pe := wantCode(t, err, pop3.CodeAuth); pe.Text != "invalid password" {
		t.Errorf("text = %q, want the PASS refusal", pe.Text)
	}
}

// A pipelined STAT reply is judged as a STAT of its own would be.
func TestPipelinedStatReply(t *testing.T) {
	for _, tc := range []struct {
		reply string
		code  pop3.Code
		text  string
	}{
		{"-ERR [SYS/PERM] maildrop damaged", pop3.CodeSysPerm, "maildrop damaged"},
		{"-ERR", pop3.CodeSysTemp, pop3.ErrBackendTemporary.Text},
		{"+OK two 300", pop3.CodeSysTemp, pop3.ErrBackendTemporary.Text},
		{"+ more", pop3.CodeSysTemp, pop3.ErrBackendTemporary.Text},
	} {
		addr := startFake(t, func(s *pop3test.Conn) {
			if pipeliningCapa(s) {
				pipelinedLogin(s, "+OK", "+OK", tc.reply)
			}
		})
		_, err := New(testOptions(addr)).Open(context.Background(), testCreds())
		if pe := wantCode(t, err, tc.code); pe.Text != tc.text {
			t.Errorf("%s: text = %q, want %q", tc.reply, pe.Text, tc.text)
		}
	}
}
