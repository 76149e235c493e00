package pop3test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/popgate/popgate/pop3"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"+OK", "+OK", true},
		{"+OK", "+OK ", false},
		{"+OK *", "+OK 2 320", true},
		{"-ERR [SYS/TEMP] *", "-ERR [SYS/TEMP] idle timeout", true},
		{"-ERR [SYS/TEMP] *", "-ERR [SYS/PERM] gone", false},
		{"<*@pop.test>", "<1.2@pop.test>", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestParseTranscript(t *testing.T) {
	tr, err := ParseTranscript("x", []byte("# c\n\nC: USER a\nC: \"STLS\\r\\nX\"\nS: + \nS:\nTLS\nCLOSED\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{{3, "C", "USER a"}, {4, "C", "STLS\r\nX"}, {5, "S", "+ "}, {6, "S", ""}, {7, "TLS", ""}, {8, "CLOSED", ""}}
	if len(tr.Steps) != len(want) {
		t.Fatalf("steps %+v, want %+v", tr.Steps, want)
	}
	for i := range want {
		if tr.Steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, tr.Steps[i], want[i])
		}
	}
	if _, err := ParseTranscript("x", []byte("X: what\n")); err == nil {
		t.Error("unknown step accepted")
	}
}

// TestRun plays a transcript against a scripted server, pipelined lines
// included.
func TestRun(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := pop3.NewReader(c)
		c.Write([]byte("+OK hello\r\n"))
		for range 2 {
			cmd, err := r.ReadCommand()
			if err != nil {
				return
			}
			c.Write([]byte("+OK " + cmd.Name + "\r\n"))
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTranscript("run", []byte("S: +OK *\nC: NOOP\nC: STAT\nS: +OK NOOP\nS: +OK STAT\nCLOSED\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr.Run(t, c, nil)
}

func TestMailbox(t *testing.T) {
	ctx := context.Background()
	m := NewMailbox("a\r\n\r\nb\r\n", "no newline")
	m.UIDs = []string{"first"}
	if n, size, err := m.Stat(ctx); n != 2 || size != 8+12 || err != nil {
		t.Errorf("Stat = %d, %d, %v", n, size, err)
	}
	if u, err := m.Uidl(ctx, 0); err != nil || u[0].UID != "first" || u[1].UID != "uid2" {
		t.Errorf("Uidl = %+v, %v", u, err)
	}
	if err := m.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Retr(ctx, 1); !errors.Is(err, pop3.ErrMessageDeleted) {
		t.Errorf("Retr of a deleted message: %v", err)
	}
	if _, err := m.List(ctx, 3); !errors.Is(err, pop3.ErrNoSuchMessage) {
		t.Errorf("List 3: %v", err)
	}
	rc, _ := m.Top(ctx, 2, 0)
	if b, _ := io.ReadAll(rc); string(b) != "no newline" {
		t.Errorf("Top of a headers-only message = %q", b)
	}
	m.BodyErr, m.BodyErrAfter = errors.New("boom"), 3
	rc, _ = m.Retr(ctx, 2)
	if b, err := io.ReadAll(rc); string(b) != "no " || err == nil || err.Error() != "boom" {
		t.Errorf("failing body = %q, %v", b, err)
	}
	r, err := m.Update(ctx)
	if err != nil || r.DeletedMsgs != 1 || r.LeftMsgs != 1 || !m.Updated() || m.Closed() {
		t.Errorf("Update = %+v, %v", r, err)
	}
	want := []string{"Stat", "Uidl", "Dele", "Retr", "List", "Top", "Retr", "Update"}
	if got := m.Calls(); !slices.Equal(got, want) {
		t.Errorf("Calls = %v, want %v", got, want)
	}
}
