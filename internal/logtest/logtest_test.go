package logtest

import (
	"fmt"
	"testing"
)

func TestLinesPicksByMessage(t *testing.T) {
	var b Buffer
	fmt.Fprintln(&b, `{"msg":"session","user":"alice","msgs":3}`)
	fmt.Fprintln(&b, `{"msg":"popgate started"}`)
	fmt.Fprintln(&b, `{"msg":"session","user":"bob"}`)
	got := b.Lines(t, "session")
	if len(got) != 2 || got[0]["user"] != "alice" || got[0]["msgs"] != 3.0 || got[1]["user"] != "bob" {
		t.Errorf("session lines: %v", got)
	}
	if got := b.Lines(t, "absent"); len(got) != 0 {
		t.Errorf("lines for an absent message: %v", got)
	}
}
