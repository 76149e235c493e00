package app

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// TestInstancesShareRedis runs two servers on one redis-server: a client
// polls the legacy Dovecot through the first (which learns the UIDLs), then
// polls through the second, where the user is on the native backend, and
// fetches only the message that arrived after the move. "uidl show" reads
// the map while both run.
func TestInstancesShareRedis(t *testing.T) {
	rdb := testpeer.StartRedis(t)
	dovecot, dir, spools, users := movingUser(t)
	shared := []string{
		"POPGATE_STORE=" + rdb.URL(2),
		"POPGATE_STORE_PREFIX=site:",
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + ",native=mbox://" + spools + "/%u",
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_ADMIN_LISTEN=off",
		"POPGATE_LISTEN=127.0.0.1:0",
	}
	instance := func(name, backend string) *server {
		vars := append([]string{
			"POPGATE_DATA_DIR=" + filepath.Join(dir, name),
			"POPGATE_DEFAULT_BACKEND=" + backend,
		}, shared...)
		return startServer(t, vars, Hooks{})
	}
	first, second := instance("one", "legacy"), instance("two", "native")

	client := testpeer.NewPoplib(t, first.addrs.Plain.String(), "rachel", "pw")
	if got := client.Poll(); len(got) != 5 {
		t.Fatalf("first poll on legacy fetched %d messages, want 5", len(got))
	}
	deliverAfterMove(t, filepath.Join(spools, "rachel"))

	client.SetAddr(second.addrs.Plain.String())
	got := client.Poll()
	if len(got) != 1 || !bytes.Contains(got[0].Body, []byte("after the move")) {
		t.Fatalf("poll through the second instance fetched %d messages, want only the new one", len(got))
	}

	var cmdVars []string
	for _, v := range shared {
		cmdVars = append(cmdVars, strings.TrimPrefix(v, "POPGATE_"))
	}
	code, stdout, stderr := runCmd(t, append(cmdVars, "DEFAULT_BACKEND=legacy"), "uidl", "show", "rachel", "native")
	if code != exitOK {
		t.Fatalf("uidl show while serving: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "\n"); n < 5 {
		t.Errorf("uidl show printed %d lines, want the 5 learned messages:\n%s", n, stdout)
	}
	for _, s := range []*server{first, second} {
		if code := s.stop(t); code != exitOK {
			t.Fatalf("exit %d", code)
		}
	}
}
