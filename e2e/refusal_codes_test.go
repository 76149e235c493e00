package e2e

import (
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
)

// TestLoginRefusalCodes checks that a refused relay login reaches the
// client as [AUTH] only when the legacy server said [AUTH] or its words are
// about the credentials (RFC 3206 [AUTH] makes clients ask for a new
// password), and that the session line's result follows the code.
func TestLoginRefusalCodes(t *testing.T) {
	for _, tt := range []struct {
		pass, want, result string
	}{
		{"-ERR [AUTH] Authentication failed.", "-ERR [AUTH] Authentication failed.\r\n", "auth_failed"},
		{"-ERR Authentication failed (bad password?)", "-ERR [AUTH] Authentication failed (bad password?)\r\n", "auth_failed"},
		{"-ERR Connection queue full", "-ERR [SYS/TEMP] Connection queue full\r\n", "backend_error"},
		{"-ERR [SYS/TEMP] Out of memory", "-ERR [SYS/TEMP] Out of memory\r\n", "backend_error"},
		{"-ERR [IN-USE] Mailbox locked", "-ERR [IN-USE] Mailbox locked\r\n", "in_use"},
		{"-ERR", "-ERR [SYS/TEMP] login refused by the mail server\r\n", "backend_error"},
		{"-ERR [X-VENDOR] try another day", "-ERR [SYS/TEMP] try another day\r\n", "backend_error"},
	} {
		t.Run(tt.pass, func(t *testing.T) {
			addr := fakeLegacy(t, &pop3test.Script{
				Greeting: pop3test.Lines("+OK legacy ready"),
				Replies: map[string]pop3test.Reply{
					"CAPA": pop3test.Lines("-ERR no CAPA"),
					"USER": pop3test.Lines("+OK"),
					"PASS": pop3test.Lines(tt.pass),
					"QUIT": {Text: "+OK bye\r\n", Close: true},
				},
			})
			gate := startRelay(t, "BACKENDS=legacy=pop3://"+addr+"?timeout=5s", "DEFAULT_BACKEND=legacy")
			rc := testpeer.Dial(t, gate.Addr)
			rc.Expect("USER rachel", "+OK")
			rc.Send("PASS pw")
			if got, err := rc.ReadLine(); got != tt.want {
				t.Errorf("PASS answered %q (%v), want %q", got, err, tt.want)
			}
			rc.Close()
			if l := gate.sessionLines(t, 1)[0]; l["result"] != tt.result {
				t.Errorf("session line result %v, want %s", l["result"], tt.result)
			}
		})
	}
}
