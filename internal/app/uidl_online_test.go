package app

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// TestUIDLCommandsWhileServing runs "popgate uidl verify|import|show"
// against a running server, with bbolt (through its admin listener) and
// with Redis (directly). The map holds what the server learned from
// Dovecot; an import of the spool with another scheme disagrees with it,
// is reported and changes nothing, until -replace.
func TestUIDLCommandsWhileServing(t *testing.T) {
	for _, kind := range []string{"bolt", "redis"} {
		t.Run(kind, func(t *testing.T) {
			dovecot, dir, spools, users := movingUser(t)
			vars := []string{
				"POPGATE_LISTEN=127.0.0.1:0",
				"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr,
				"POPGATE_USERS_FILE=" + users,
				"POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
				"POPGATE_AUTH_FAIL_DELAY=0s",
			}
			admin := "POPGATE_ADMIN_LISTEN=127.0.0.1:0"
			if kind == "redis" {
				vars = append(vars, "POPGATE_STORE="+testpeer.StartRedis(t).URL(0))
				admin = "POPGATE_ADMIN_LISTEN=off"
			}
			srv := startServer(t, append(vars, admin), Hooks{})
			if got := testpeer.Poplib(t, srv.addrs.Plain.String(), "rachel", "pw"); len(got) != 5 {
				t.Fatalf("poll fetched %d messages", len(got))
			}

			cmdVars := []string{"UIDL_PASSWORD=pw"}
			for _, v := range vars {
				cmdVars = append(cmdVars, strings.TrimPrefix(v, "POPGATE_"))
			}
			if kind == "bolt" {
				cmdVars = append(cmdVars, "ADMIN_LISTEN="+srv.addrs.Admin.String())
			} else {
				cmdVars = append(cmdVars, "ADMIN_LISTEN=off")
			}
			uidl := func(args ...string) (int, string) {
				t.Helper()
				code, stdout, stderr := runCmd(t, cmdVars, append([]string{"uidl"}, args...)...)
				return code, stdout + stderr
			}
			if code, out := uidl("verify", "rachel"); code != exitOK || !strings.Contains(out, "matching 5") {
				t.Errorf("verify of the learned map: exit %d\n%s", code, out)
			}
			spool := filepath.Join(spools, "rachel")
			if code, out := uidl("import", "-quiet", "-scheme", "popa3d", spool); code != exitFailure ||
				!strings.Contains(out, "disagrees: rachel:") || !strings.Contains(out, "conflicts 1 (kept") {
				t.Errorf("import over learned entries: exit %d; want 1 reporting them\n%s", code, out)
			}
			if code, out := uidl("verify", "rachel"); code != exitOK {
				t.Errorf("the refused import changed the map: verify exit %d\n%s", code, out)
			}
			if code, out := uidl("import", "-quiet", "-replace", "-scheme", "popa3d", spool); code != exitOK || !strings.Contains(out, "(replaced)") {
				t.Errorf("import -replace: exit %d\n%s", code, out)
			}
			// The learned UIDLs stay reserved, marked gone.
			if code, out := uidl("show", "rachel"); code != exitOK || strings.Count(out, " present ") != 5 || strings.Count(out, " gone ") != 5 {
				t.Errorf("show: exit %d; want 5 imported and 5 learned entries, gone\n%s", code, out)
			}
			if code, _ := uidl("verify", "rachel"); code != exitFailure {
				t.Errorf("verify after replacing the map with other UIDLs: exit %d, want 1", code)
			}
			if code := srv.stop(t); code != exitOK {
				t.Fatalf("exit %d", code)
			}
		})
	}
}
