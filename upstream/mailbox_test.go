package upstream

import (
	"context"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

func TestStatListUidl(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		// STAT is answered from the login's STAT: nothing is deleted.
		s.Expect("LIST")
		s.Send("+OK 2 messages", "1 120", "2 180 extra info allowed", ".")
		s.Expect("LIST 2")
		s.Send("+OK 2 180")
		s.Expect("UIDL")
		s.Send("+OK", "1 a!b~c", "2 "+strings.Repeat("z", 70), ".")
		s.Expect("UIDL 1")
		s.Send("+OK 1 a!b~c")
	})
	ctx := context.Background()
	n, size, err := m.Stat(ctx)
	if err != nil || n != 2 || size != 300 {
		t.Fatalf("Stat = %d, %d, %v; want 2, 300", n, size, err)
	}
	check := func(what string, got []pop3.MsgInfo, err error, want []pop3.MsgInfo) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %+v, want %+v", what, got, want)
		}
	}
	got, err := m.List(ctx, 0)
	check("List(0)", got, err, []pop3.MsgInfo{{Num: 1, Size: 120}, {Num: 2, Size: 180}})
	got, err = m.List(ctx, 2)
	check("List(2)", got, err, []pop3.MsgInfo{{Num: 2, Size: 180}})
	got, err = m.Uidl(ctx, 0)
	check("Uidl(0)", got, err, []pop3.MsgInfo{{Num: 1, UID: "a!b~c"}, {Num: 2, UID: strings.Repeat("z", 70)}})
	got, err = m.Uidl(ctx, 1)
	check("Uidl(1)", got, err, []pop3.MsgInfo{{Num: 1, UID: "a!b~c"}})
}

// A listing with a bad line fails as a whole, and the rest of the block is
// consumed so the next command still works.
func TestListingBadLines(t *testing.T) {
	for _, tc := range []struct{ cmd, line string }{
		{"LIST", "x 120"},
		{"LIST", "1"},
		{"LIST", "1 -5"},
		{"LIST", "0 10"},
		{"LIST", "1 " + strings.Repeat("9", 600)}, // over-long line
		{"UIDL", "1 has space"},
		{"UIDL", "1 " + strings.Repeat("u", 71)},
		{"UIDL", "1 ctl\x01"},
		{"UIDL", "1"},
		{"UIDL", "+1 abc"},
	} {
		t.Run(tc.cmd+" "+tc.line[:min(len(tc.line), 20)], func(t *testing.T) {
			m := openFake(t, func(s *pop3test.Conn) {
				s.Expect(tc.cmd)
				s.Send("+OK", tc.line, "2 two", ".")
				s.Expect("NOOP")
				s.Send("+OK")
			})
			ctx := context.Background()
			var err error
			if tc.cmd == "LIST" {
				_, err = m.List(ctx, 0)
			} else {
				_, err = m.Uidl(ctx, 0)
			}
			wantCode(t, err, pop3.CodeSysTemp)
			if err := m.Noop(ctx); err != nil {
				t.Errorf("Noop after a bad listing: %v", err)
			}
		})
	}
}

func TestSingleListingForAnotherMessage(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("LIST 3")
		s.Send("+OK 4 100")
	})
	_, err := m.List(context.Background(), 3)
	wantCode(t, err, pop3.CodeSysTemp)
}

func TestServerErrorsKeepTextAndCode(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("RETR 9")
		s.Send("-ERR no such message, only 2 in maildrop")
		s.Expect("DELE 1")
		s.Send("-ERR [SYS/PERM] mailbox is read-only")
		s.Expect("LIST 7")
		s.Send("-ERR")
		s.Expect("NOOP")
		s.Send("+OK")
	})
	ctx := context.Background()
	_, err := m.Retr(ctx, 9)
	if pe := wantCode(t, err, pop3.CodeNone); pe.Text != "no such message, only 2 in maildrop" {
		t.Errorf("Retr text = %q", pe.Text)
	}
	err = m.Dele(ctx, 1)
	if pe := wantCode(t, err, pop3.CodeSysPerm); pe.Text != "mailbox is read-only" {
		t.Errorf("Dele text = %q", pe.Text)
	}
	_, err = m.List(ctx, 7)
	if pe := wantCode(t, err, pop3.CodeNone); pe.Text != "" {
		t.Errorf("List text = %q, want none, as the server sent", pe.Text)
	}
	// -ERR replies leave the session usable.
	if err := m.Noop(ctx); err != nil {
		t.Errorf("Noop: %v", err)
	}
}

// RETR and TOP bodies come back unstuffed and byte for byte; a line ".\n"
// with a bare LF is data (its dot is stuffing), not the end of the block.
func TestRetrStreamsUnstuffedBytes(t *testing.T) {
	const wire = "Subject: dots\r\n\r\n..leading dot\r\n.\n bare-LF dot line\r\nlast line no dot\r\n.\r\n"
	const want = "Subject: dots\r\n\r\n.leading dot\r\n\n bare-LF dot line\r\nlast line no dot\r\n"
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("RETR 1")
		s.Write("+OK 70 octets\r\n" + wire)
		s.Expect("TOP 1 0")
		s.Write("+OK\r\nSubject: dots\r\n\r\n.\r\n")
		s.Expect("NOOP")
		s.Send("+OK")
	})
	ctx := context.Background()
	body := readAll(t, func() (io.ReadCloser, error) { return m.Retr(ctx, 1) })
	if body != want {
		t.Errorf("Retr body = %q, want %q", body, want)
	}
	body = readAll(t, func() (io.ReadCloser, error) { return m.Top(ctx, 1, 0) })
	if body != "Subject: dots\r\n\r\n" {
		t.Errorf("Top body = %q", body)
	}
	if err := m.Noop(ctx); err != nil {
		t.Errorf("Noop after bodies: %v", err)
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) string {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatalf("open body: %v", err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("close body: %v", err)
	}
	return string(b)
}

func TestRetrCloseDrainsAndBlocksCommands(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("RETR 1")
		s.Write("+OK\r\n" + strings.Repeat("line of the body\r\n", 5000) + ".\r\n")
		s.Expect("NOOP")
		s.Send("+OK")
	})
	ctx := context.Background()
	rc, err := m.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	if err := m.Noop(ctx); err == nil || !errors.Is(err, ErrBodyOpen) {
		t.Errorf("Noop with an open body = %v, want ErrBodyOpen", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := rc.Read(buf); err == nil {
		t.Error("Read after Close succeeded")
	}
	if err := m.Noop(ctx); err != nil {
		t.Errorf("Noop after Close: %v", err)
	}
}

func TestRetrConnectionLostMidMessage(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("RETR 1")
		s.Write("+OK\r\nSubject: cut\r\n\r\nhalf a bo")
		// returning closes the connection
	})
	ctx := context.Background()
	rc, err := m.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	wantCode(t, err, pop3.CodeSysTemp)
	if !errors.Is(err, pop3.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want ErrUnexpectedEOF in the chain", err)
	}
	// The session is unusable from now on, without touching the network.
	wantCode(t, m.Noop(ctx), pop3.CodeSysTemp)
}

func TestRetrCancelledMidMessage(t *testing.T) {
	done := make(chan struct{})
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("RETR 1")
		s.Write("+OK\r\nSubject: slow\r\n")
		<-done // then stall until the test is over
	})
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := m.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = io.ReadAll(rc)
	wantCode(t, err, pop3.CodeSysTemp)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if err := rc.Close(); err == nil {
		t.Error("Close of a broken body = nil, want the failure")
	}
}

func TestServerStopsAnswering(t *testing.T) {
	done := make(chan struct{})
	addr := startFake(t, func(s *pop3test.Conn) {
		if login(s) {
			s.Expect("NOOP")
			<-done
		}
	})
	defer close(done)
	o := testOptions(addr)
	o.CommandTimeout = 150 * time.Millisecond
	m, err := New(o).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Noop(context.Background())
	wantCode(t, err, pop3.CodeSysTemp)
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "noop") {
		t.Errorf("err = %v, want a deadline error naming noop", err)
	}
	if _, _, err := m.Stat(context.Background()); err == nil {
		t.Error("Stat after a timeout succeeded on an out-of-sync connection")
	}
}

func TestGarbageAndOverlongReplies(t *testing.T) {
	for name, reply := range map[string]string{
		"garbage":   "HELLO THERE",
		"bad ok":    "+OKAY 1 2",
		"over-long": "+OK " + strings.Repeat("9", 600),
		"bad stat":  "+OK two 300",
		"sasl":      "+ challenge",
	} {
		t.Run(name, func(t *testing.T) {
			m := openFake(t, func(s *pop3test.Conn) {
				s.Expect("STAT")
				s.Send(reply)
			})
			_, _, err := m.(*mailbox).stat(context.Background())
			wantCode(t, err, pop3.CodeSysTemp)
		})
	}
}

// STAT goes to the server only once something is marked deleted, and
// again comes from the login's STAT after RSET.
func TestStatAsksOnlyAfterDele(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("DELE 1")
		s.Send("+OK")
		s.Expect("STAT")
		s.Send("+OK 1 180")
		s.Expect("RSET")
		s.Send("+OK")
	})
	ctx := context.Background()
	for _, step := range []struct {
		do   func() error
		msgs int
		size int64
	}{
		{func() error { return nil }, 2, 300},
		{func() error { return m.Dele(ctx, 1) }, 1, 180},
		{func() error { return m.Rset(ctx) }, 2, 300},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		n, size, err := m.Stat(ctx)
		if err != nil || n != step.msgs || size != step.size {
			t.Fatalf("Stat = %d, %d, %v; want %d, %d", n, size, err, step.msgs, step.size)
		}
	}
}

func TestBadArgumentsSendNothing(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("NOOP")
		s.Send("+OK")
	})
	ctx := context.Background()
	if _, err := m.Retr(ctx, 0); !errors.Is(err, pop3.ErrNoSuchMessage) {
		t.Errorf("Retr(0) = %v", err)
	}
	if _, err := m.Top(ctx, 1, -1); err == nil {
		t.Error("Top(1, -1) succeeded")
	}
	if err := m.Dele(ctx, -3); !errors.Is(err, pop3.ErrNoSuchMessage) {
		t.Errorf("Dele(-3) = %v", err)
	}
	if _, err := m.List(ctx, -1); err == nil {
		t.Error("List(-1) succeeded")
	}
	if err := m.Noop(ctx); err != nil { // the server saw nothing before this
		t.Errorf("Noop: %v", err)
	}
}

func TestCancelledContextSendsNothing(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("NOOP")
		s.Send("+OK")
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Rset(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Rset(cancelled) = %v", err)
	}
	if err := m.Noop(context.Background()); err != nil {
		t.Errorf("Noop: %v", err)
	}
}

func TestTopAndUidlNotOffered(t *testing.T) {
	addr := startFake(t, func(s *pop3test.Conn) {
		if greetAndCapa("+OK", "USER", ".")(s) && userPass(s) {
			s.Expect("NOOP")
			s.Send("+OK")
		}
	})
	m, err := New(testOptions(addr)).Open(context.Background(), testCreds())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if _, err := m.Top(ctx, 1, 0); !errors.Is(err, pop3.ErrUnsupported) {
		t.Errorf("Top = %v, want ErrUnsupported", err)
	}
	if _, err := m.Uidl(ctx, 0); !errors.Is(err, pop3.ErrUnsupported) {
		t.Errorf("Uidl = %v, want ErrUnsupported", err)
	}
	if err := m.Noop(ctx); err != nil {
		t.Errorf("Noop: %v", err)
	}
}

func TestUpdateReportsDeletions(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("DELE 1")
		s.Send("+OK marked")
		s.Expect("STAT")
		s.Send("+OK 1 180")
		s.Expect("QUIT")
		s.Send("+OK 1 message deleted")
	})
	ctx := context.Background()
	if err := m.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	res, err := m.Update(ctx)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := pop3.UpdateResult{DeletedMsgs: 1, DeletedBytes: 120, LeftMsgs: 1, LeftBytes: 180}
	if res != want {
		t.Errorf("Update = %+v, want %+v", res, want)
	}
}

func TestRsetForgetsDeletions(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("DELE 2")
		s.Send("+OK")
		s.Expect("RSET")
		s.Send("+OK")
		s.Expect("QUIT") // no STAT: nothing is marked
		s.Send("+OK")
	})
	ctx := context.Background()
	if err := m.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := m.Rset(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := m.Update(ctx)
	if err != nil || res != (pop3.UpdateResult{LeftMsgs: 2, LeftBytes: 300}) {
		t.Errorf("Update = %+v, %v", res, err)
	}
}

func TestUpdateUnconfirmed(t *testing.T) {
	for name, quit := range map[string]func(s *pop3test.Conn){
		"quit -ERR": func(s *pop3test.Conn) { s.Send("-ERR [SYS/TEMP] some deleted messages not removed") },
		"conn lost": func(s *pop3test.Conn) {},
	} {
		t.Run(name, func(t *testing.T) {
			m := openFake(t, func(s *pop3test.Conn) {
				s.Expect("DELE 1")
				s.Send("+OK")
				s.Expect("STAT")
				s.Send("+OK 1 180")
				s.Expect("QUIT")
				quit(s)
			})
			ctx := context.Background()
			if err := m.Dele(ctx, 1); err != nil {
				t.Fatal(err)
			}
			res, err := m.Update(ctx)
			wantCode(t, err, pop3.CodeSysTemp)
			if res != (pop3.UpdateResult{}) {
				t.Errorf("Update result = %+v on failure, want zero", res)
			}
		})
	}
}

// Close must not QUIT: without QUIT the server does not enter UPDATE.
func TestCloseSendsNothing(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("DELE 1")
		s.Send("+OK")
		s.ExpectEOF()
	})
	if err := m.Dele(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// The first bytes of a message reach the caller while the server is still
// sending the rest: bodies are streamed, never buffered whole.
func TestRetrStreamsBeforeMessageEnds(t *testing.T) {
	firstSeen := make(chan struct{})
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("RETR 1")
		s.Write("+OK\r\nfirst line\r\n")
		select {
		case <-firstSeen:
		case <-time.After(pop3test.Deadline):
			t.Error("client never saw the first line")
		}
		s.Write("second line\r\n.\r\n")
	})
	rc, err := m.Retr(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, len("first line\r\n"))
	if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "first line\r\n" {
		t.Fatalf("first read = %q, %v", buf, err)
	}
	close(firstSeen)
	rest, err := io.ReadAll(rc)
	if err != nil || string(rest) != "second line\r\n" {
		t.Errorf("rest = %q, %v", rest, err)
	}
}

// TestStatusRelaysServerText: each command's +OK line is kept as the
// server sent it, for that command only, so the proxy can relay it.
func TestStatusRelaysServerText(t *testing.T) {
	m := openFake(t, func(s *pop3test.Conn) {
		s.Expect("RETR 1")
		s.Send("+OK 12 octets", "Subject: x", "", ".")
		s.Expect("DELE 1")
		s.Send("+OK Marked to be deleted.")
		s.Expect("LIST")
		s.Send("+OK 0 messages:", ".")
		s.Expect("LIST 2")
		s.Send("-ERR There's no message 2.")
	})
	ctx := context.Background()
	want := func(cmd, text string) {
		t.Helper()
		r, ok := pop3.StatusOf(m, cmd)
		if text == "" {
			if ok {
				t.Errorf("Status(%s) = %q, want none", cmd, r)
			}
			return
		}
		if !ok || r.String() != text {
			t.Errorf("Status(%s) = %q, %v; want %q", cmd, r, ok, text)
		}
	}
	rc, err := m.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	want("RETR", "+OK 12 octets")
	want("TOP", "")
	if err := m.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	want("DELE", "+OK Marked to be deleted.")
	want("RETR", "")
	if _, err := m.List(ctx, 0); err != nil {
		t.Fatal(err)
	}
	want("LIST", "+OK 0 messages:")
	if _, err := m.List(ctx, 2); err == nil {
		t.Fatal("LIST 2 succeeded")
	}
	// A refusal is no status to relay, and makes the previous one stale.
	want("LIST", "")
}
