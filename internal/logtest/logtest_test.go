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

func TestDecodeStrictRejectsDuplicateKeys(t *testing.T) {
	for _, line := range []string{
		`{"msg":"uidl: no legacy unique-id","msg":18}`,
		`{"msg":"x","nested":{"a":1,"a":2}}`,
		`{"msg":"x","list":[{"b":1,"b":1}]}`,
	} {
		if _, err := DecodeStrict([]byte(line)); err == nil {
			t.Errorf("%s decoded without error", line)
		}
	}
	m, err := DecodeStrict([]byte(`{"msg":"session","retr_msgs":2,"nested":{"a":[1,"x"]},"ok":true}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["msg"] != "session" || m["retr_msgs"] != 2.0 || m["ok"] != true {
		t.Errorf("decoded %v", m)
	}
	for _, bad := range []string{`[1]`, `{"a":1} {"b":2}`, `{"a":`} {
		if _, err := DecodeStrict([]byte(bad)); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}
