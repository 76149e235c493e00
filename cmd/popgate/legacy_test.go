package main

import (
	"bytes"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// TestServeRelaysToDovecot puts the binary's wiring in front of a real
// Dovecot through a pop3:// backend URL with options: a client gets the
// same messages and UIDLs through popgate as directly.
func TestServeRelaysToDovecot(t *testing.T) {
	dovecot := testpeer.StartDovecot(t, testpeer.DovecotOptions{
		Users: []testpeer.User{{Name: "rachel", Password: "s3cret", Mbox: testpeer.TrickyMbox()}},
	})
	direct := testpeer.Poplib(t, dovecot.Addr, "rachel", "s3cret")
	if len(direct) == 0 {
		t.Fatal("Dovecot served no messages")
	}

	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + "?max_sessions=4&timeout=20s&dial_timeout=5s",
		"POPGATE_DATA_DIR=" + t.TempDir(),
		"POPGATE_AUTH_FAIL_DELAY=0s",
	}, hooks{})
	via := testpeer.Poplib(t, srv.addrs.Plain.String(), "rachel", "s3cret")
	if len(via) != len(direct) {
		t.Fatalf("%d messages through popgate, %d directly", len(via), len(direct))
	}
	for i := range direct {
		if via[i].UIDL != direct[i].UIDL || !bytes.Equal(via[i].Body, direct[i].Body) {
			t.Errorf("message %d differs: UIDL %q vs %q, %d vs %d bytes",
				i+1, via[i].UIDL, direct[i].UIDL, len(via[i].Body), len(direct[i].Body))
		}
	}
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := srv.stdout.logLines(t, "session")
	if len(lines) != 1 || lines[0]["backend"] != "legacy" || lines[0]["result"] != "ok" {
		t.Errorf("session lines: %v", lines)
	}
}
