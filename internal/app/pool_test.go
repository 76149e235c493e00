package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
)

// TestLegacyPool runs the binary's wiring in front of a scripted legacy
// server with the default pool: logins use greeted connections (the
// session line and /metrics say so), a reload that changes the backend
// keeps the pool in force until a restart, and stopping the server closes
// the pooled connection with QUIT.
func TestLegacyPool(t *testing.T) {
	legacy := pop3test.Start(t, (&pop3test.Script{Replies: map[string]pop3test.Reply{
		"CAPA": pop3test.Lines("+OK", "USER", "UIDL", "PIPELINING", "."),
		"USER": pop3test.Lines("+OK"),
		"PASS": pop3test.Lines("+OK logged in"),
		"STAT": pop3test.Lines("+OK 0 0"),
		"LIST": pop3test.Lines("+OK", "."),
		"UIDL": pop3test.Lines("+OK", "."),
		"QUIT": {Text: "+OK bye\r\n", Close: true},
	}}).Serve)
	dir := t.TempDir()
	envFile := filepath.Join(dir, "popgate.env")
	writeFile(t, envFile, "POPGATE_BACKENDS=legacy=pop3://"+legacy.Addr+"\n")
	environ := []string{
		"POPGATE_LISTEN=127.0.0.1:0", "POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"POPGATE_ADMIN_LISTEN=127.0.0.1:0", "POPGATE_AUTH_FAIL_DELAY=0s", "POPGATE_ENV_FILE=" + envFile,
	}
	srv := startServer(t, environ, Hooks{})
	addr := srv.addrs.Plain.String()
	login := func() {
		t.Helper()
		rc := testpeer.Dial(t, addr)
		defer rc.Close()
		rc.OK("USER alice")
		rc.OK("PASS secret")
		rc.OK("QUIT")
	}
	metric := func(name string) string {
		t.Helper()
		resp, err := http.Get("http://" + srv.addrs.Admin.String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(line, name+" ") {
				return strings.TrimSpace(strings.TrimPrefix(line, name))
			}
		}
		return ""
	}
	idle := `popgate_backend_pool_idle_connections{backend="legacy"}`

	// Two logins in a row: the second finds the pool empty and fills it.
	login()
	login()
	pop3test.Eventually(t, "a pooled connection", func() bool { return metric(idle) == "1" })
	login()
	pop3test.Eventually(t, "the pool refilled", func() bool { return metric(idle) == "1" })
	if got := metric(`popgate_backend_pool_events_total{backend="legacy",event="taken"}`); got != "1" {
		t.Errorf("taken = %q, want 1", got)
	}

	// A changed backend needs a restart; the running pool stays.
	writeFile(t, envFile, "POPGATE_BACKENDS=legacy=pop3://"+legacy.Addr+"?pool=0\n")
	var out, errOut bytes.Buffer
	env := append(append([]string(nil), environ...), "POPGATE_ADMIN_LISTEN="+srv.addrs.Admin.String())
	if code := reloadCommand(context.Background(), env, &out, &errOut); code != exitOK {
		t.Fatalf("reload: exit %d: %s%s", code, out.String(), errOut.String())
	}
	warned := false
	for _, l := range srv.stdout.Lines(t, "reload: these changes need a restart") {
		warned = warned || strings.Contains(fmt.Sprint(l["variables"]), "POPGATE_BACKENDS")
	}
	if !warned {
		t.Errorf("no restart warning for the changed backend:\n%s", srv.stdout.String())
	}
	login()
	pop3test.Eventually(t, "the pool refilled after the reload", func() bool { return metric(idle) == "1" })

	quits := legacy.Count("QUIT")
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if got := legacy.Count("QUIT"); got != quits+1 {
		t.Errorf("stopping sent %d QUITs, want 1 for the pooled connection", got-quits)
	}
	pooled := 0
	for _, l := range srv.stdout.Lines(t, "session") {
		if l["pooled"] == true {
			pooled++
		}
	}
	if pooled != 2 {
		t.Errorf("%d session lines say pooled, want 2:\n%s", pooled, srv.stdout.String())
	}
}
