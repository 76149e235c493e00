package testpeer

import (
	"fmt"
	"strings"
	"testing"
)

// uidls returns the UIDL listing in message-number order.
func uidls(t *testing.T, s *Raw) []string {
	t.Helper()
	var out []string
	for _, line := range s.Lines("UIDL") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("UIDL line %q", line)
		}
		out = append(out, f[1])
	}
	return out
}

// allMessages returns every message as the server sends it for RETR.
func allMessages(t *testing.T, s *Raw) []Message {
	t.Helper()
	var msgs []Message
	for i, u := range uidls(t, s) {
		msgs = append(msgs, Message{UIDL: u, Body: s.Block(fmt.Sprintf("RETR %d", i+1))})
	}
	return msgs
}
