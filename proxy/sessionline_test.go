package proxy

import (
	"fmt"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/popgate/popgate/session"
	"go.uber.org/zap/zapcore"
)

// sessionKeys are the session line's keys, in order (ARCHITECTURE.md).
var sessionKeys = []string{
	"session", "client", "via", "user", "backend", "tls", "auth",
	"msgs", "bytes", "retr_msgs", "retr_bytes", "deleted_msgs", "deleted_bytes",
	"left_msgs", "left_bytes", "uidl_mapped", "penalty", "delay_ms",
	"wait_queue_ms", "wait_login_ms", "wait_auth_fail_ms", "wait_shaping_ms",
	"duration_ms", "result", "error",
}

func TestSessionLineFields(t *testing.T) {
	ended := make(chan *session.Record, 1)
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
		o.OnSessionEnd = func(r *session.Record) { ended <- r }
	})
	c := newClient(t, env.dial(t))
	c.login()
	c.send("RETR 2")
	c.expect("+OK 42 octets")
	c.block()
	c.send("TOP 1 0")
	c.expect("+OK *")
	c.block()
	c.send("DELE 1")
	c.expect("+OK *")
	c.send("QUIT")
	c.expect("+OK bye (2 messages left)")

	lines := env.sessionLines(t, 1)
	e := lines[0]
	if e.Level != zapcore.InfoLevel {
		t.Errorf("session line level %v, want info", e.Level)
	}
	var keys []string
	for _, f := range e.Context {
		keys = append(keys, f.Key)
	}
	if !reflect.DeepEqual(keys, sessionKeys) {
		t.Errorf("session line keys\n got %v\nwant %v", keys, sessionKeys)
	}
	m := e.ContextMap()
	want := map[string]any{
		"user": "bob", "backend": "fake", "tls": "none", "auth": "ok", "via": "",
		"msgs": int64(3), "bytes": int64(101), "retr_msgs": int64(2), "retr_bytes": int64(42 + 16),
		"deleted_msgs": int64(1), "deleted_bytes": int64(23), "left_msgs": int64(2), "left_bytes": int64(78),
		"result": "ok", "error": "",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("session line %s = %#v, want %#v", k, m[k], v)
		}
	}
	if !strings.HasPrefix(m["client"].(string), "127.0.0.1:") {
		t.Errorf("client = %v, want 127.0.0.1:port", m["client"])
	}
	select {
	case r := <-ended:
		if r.Session != m["session"] || r.Result != session.ResultOK {
			t.Errorf("OnSessionEnd got session %q result %q, logged %q", r.Session, r.Result, m["session"])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnSessionEnd not called")
	}
}

func TestSessionLineAuthFailed(t *testing.T) {
	env := startServer(t, nil)
	c := newClient(t, env.dial(t))
	c.expect("+OK *")
	c.send("USER bob")
	c.expect("+OK")
	c.send("PASS hunter2")
	c.expect("-ERR [AUTH] *")
	c.send("QUIT")
	c.expect("+OK bye")
	line := env.sessionLines(t, 1)[0]
	if line.Level != zapcore.WarnLevel {
		t.Errorf("a refused login's session line is at %v, want warn", line.Level)
	}
	m := line.ContextMap()
	if m["result"] != session.ResultAuthFailed || m["auth"] != "failed" {
		t.Errorf("result %v auth %v, want auth_failed/failed", m["result"], m["auth"])
	}
	if e := m["error"].(string); !strings.Contains(e, "backend fake") || !strings.Contains(e, "user bob") {
		t.Errorf("error %q does not name the backend and user", e)
	}
}

// TestNoSecretsInLogs logs in with each mechanism at Debug level and checks
// that no password, SASL payload or APOP digest reaches any log line.
func TestNoSecretsInLogs(t *testing.T) {
	env := startServer(t, func(o *Options, _ *pop3test.Mailbox) { fakeOpener(o).APOP = true })
	secrets := []string{"secret", "hunter2", "AGJvYgBzZWNyZXQ=", "AGJvYgBodW50ZXIy", "c4c9334bac560ecc979e58001b3e22fb", "AGJvYgBodW50ZXIz"}

	c := newClient(t, env.dial(t))
	c.expect("+OK *")
	for _, step := range [][2]string{
		{"USER bob", "+OK*"}, {"PASS hunter2", "-ERR*"},
		{"AUTH PLAIN AGJvYgBodW50ZXIy", "-ERR*"},
		{"AUTH PLAIN", "+ "}, {"AGJvYgBodW50ZXIy", "-ERR*"},
		{"AUTH AGJvYgBodW50ZXIz", "-ERR*"},
		{"APOP nobody c4c9334bac560ecc979e58001b3e22fb", "-ERR*"},
		{"USER bob", "+OK*"}, {"PASS secret", "+OK*"},
		{"QUIT", "+OK*"},
	} {
		c.send(step[0])
		c.expect(step[1])
	}
	env.sessionLines(t, 1)
	for _, e := range env.logs.All() {
		text := e.Message
		for _, f := range e.Context {
			text += " " + f.Key + "=" + f.String + " " + fieldString(f)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("log %q holds secret %q", text, s)
			}
		}
	}
	if n := len(env.logs.FilterMessage("command").All()); n == 0 {
		t.Error("no debug protocol trace was logged; the check above proves nothing")
	}
}

func fieldString(f zapcore.Field) string {
	enc := zapcore.NewMapObjectEncoder()
	f.AddTo(enc)
	var b strings.Builder
	for k, v := range enc.Fields {
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.Trim(fmtAny(v), "{}"), "\n", " ")))
	}
	return b.String()
}

func TestOneLinePerConnection(t *testing.T) {
	env := startServer(t, nil)
	const n = 5
	for i := range n {
		c := newClient(t, env.dial(t))
		c.expect("+OK *")
		if i%2 == 0 {
			c.send("QUIT")
			c.expect("+OK bye")
		}
		c.c.Close()
	}
	lines := env.sessionLines(t, n)
	var ids []string
	for _, e := range lines {
		ids = append(ids, e.ContextMap()["session"].(string))
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != n {
		t.Errorf("session ids not unique: %v", ids)
	}
	var results []string
	for _, e := range lines {
		results = append(results, e.ContextMap()["result"].(string))
	}
	slices.Sort(results)
	want := []string{"client_gone", "client_gone", "ok", "ok", "ok"}
	if !reflect.DeepEqual(results, want) {
		t.Errorf("results %v, want %v", results, want)
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }
