package upstream

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
)

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"no such message", "no such message"},
		{"  padded  ", "padded"},
		{"ctl\x00\x07 and 8-bit \xe9 caf\xc3\xa9", "ctl?? and 8-bit ? caf?"},
		{"", "fallback"},
		{"\x01", "?"},
		{strings.Repeat("a", 300), strings.Repeat("a", maxServerText)},
	} {
		if got := sanitize(tc.in, "fallback"); got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKnownCode(t *testing.T) {
	if got := knownCode(pop3.CodeInUse, pop3.CodeAuth); got != pop3.CodeInUse {
		t.Errorf("IN-USE became %q", got)
	}
	if got := knownCode("X-VENDOR", pop3.CodeAuth); got != pop3.CodeAuth {
		t.Errorf("unknown code became %q, want the default", got)
	}
}

// send refuses an argument that would smuggle a second command, and
// writes nothing at all.
func TestSendRefusesLineBreaks(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	c := &conn{name: "legacy", nc: client, r: pop3.NewReader(client), timeout: time.Second}
	for _, arg := range []string{"1\r\nDELE 2", "x\n", "a\x00b", "\r"} {
		err := c.send(context.Background(), "test", "TOP", arg)
		if err == nil || pop3.CodeOf(err) == pop3.CodeSysTemp {
			t.Errorf("send(%q) = %v, want a refusal that keeps the session", arg, err)
		}
	}
	if c.broken != nil {
		t.Errorf("refused arguments broke the connection: %v", c.broken)
	}
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, _ := server.Read(make([]byte, 64)); n != 0 {
		t.Errorf("server received %d bytes", n)
	}
}
