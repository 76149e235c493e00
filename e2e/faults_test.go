package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
)

// loginThen is a legacy server that accepts any login, answers STAT, and
// plays fault for every other command.
func loginThen(fault pop3test.Reply) *pop3test.Script {
	return &pop3test.Script{
		Greeting: pop3test.Lines("+OK legacy ready"),
		Replies: map[string]pop3test.Reply{
			"CAPA": pop3test.Lines("-ERR no CAPA"),
			"USER": pop3test.Lines("+OK"),
			"PASS": pop3test.Lines("+OK"),
			"STAT": pop3test.Lines("+OK 2 2000"),
		},
		Unknown: fault,
	}
}

// fakeLegacy serves script until the test ends and returns the address.
func fakeLegacy(t *testing.T, script *pop3test.Script) string {
	t.Helper()
	return pop3test.Start(t, script.Serve).Addr
}

// TestBackendFaults checks that a dead, hanging or dying legacy server
// gives the client a clear -ERR [SYS/TEMP] within the configured timeout,
// and one session line whose cause names the backend and the user.
func TestBackendFaults(t *testing.T) {
	login := func(rc *testpeer.Raw, want string) {
		rc.Expect("USER rachel", "+OK")
		rc.Expect("PASS pw", want)
	}
	refusedAtLogin := func(_ *testing.T, rc *testpeer.Raw) { login(rc, "-ERR [SYS/TEMP]") }
	tests := []struct {
		name   string
		addr   string
		client func(t *testing.T, rc *testpeer.Raw)
		cause  string
	}{
		{name: "server down", addr: pop3test.ClosedAddr(t), client: refusedAtLogin, cause: "refused"},
		{
			name:   "server never greets",
			addr:   fakeLegacy(t, &pop3test.Script{Greeting: pop3test.Reply{Hang: true}}),
			client: refusedAtLogin,
			cause:  "timeout",
		},
		{
			name: "server stops answering",
			addr: fakeLegacy(t, loginThen(pop3test.Reply{Hang: true})),
			client: func(t *testing.T, rc *testpeer.Raw) {
				login(rc, "+OK")
				rc.Expect("UIDL", "-ERR [SYS/TEMP]")
			},
			cause: "timeout",
		},
		{
			name: "server closes mid-RETR",
			addr: fakeLegacy(t, loginThen(pop3test.Reply{Text: "+OK 1000 octets\r\nSubject: half\r\n\r\nfirst line\r\n", Close: true})),
			client: func(t *testing.T, rc *testpeer.Raw) {
				login(rc, "+OK")
				rc.Expect("RETR 1", "+OK")
				// The message cannot be completed: the connection must end
				// without a terminating dot, so the client never takes half
				// a message for a whole one.
				for {
					line, err := rc.ReadLine()
					if err != nil {
						return
					}
					if line == ".\r\n" {
						t.Fatal("a truncated message was terminated as if complete")
					}
				}
			},
			cause: "retr",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := startRelay(t, "BACKENDS=legacy=pop3://"+tt.addr+"?dial_timeout=1s&timeout=1s", "DEFAULT_BACKEND=legacy")
			start := time.Now()
			rc := testpeer.Dial(t, gate.Addr)
			tt.client(t, rc)
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("the client waited %v for a 1s backend timeout", d)
			}
			rc.Close()
			lines := gate.sessionLines(t, 1)
			if len(lines) != 1 {
				t.Fatalf("%d session lines, want 1", len(lines))
			}
			l := lines[0]
			errText, _ := l["error"].(string)
			if l["result"] != "backend_error" || !strings.Contains(errText, "legacy") || !strings.Contains(errText, "rachel") || !strings.Contains(strings.ToLower(errText), tt.cause) {
				t.Errorf("session line result %v error %q; want backend_error naming legacy, rachel and %q", l["result"], errText, tt.cause)
			}
		})
	}
}
