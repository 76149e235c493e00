package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
)

// TestServeMovesUserKeepingUIDLs runs the binary's wiring with a legacy
// Dovecot and a native mbox backend holding the same mail. A client keeping
// mail on the server polls on legacy (popgate learns the UIDLs), the user is
// moved by a routes reload, a new message arrives, and the client's next
// poll fetches that message alone.
func TestServeMovesUserKeepingUIDLs(t *testing.T) {
	dovecot, dir, spools, users := movingUser(t)
	spool := filepath.Join(spools, "rachel")
	routesFile := filepath.Join(dir, "routes")
	writeFile := func(path, text string) {
		if err := os.WriteFile(path+".new", []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(routesFile, "rachel legacy\n")
	reload := make(chan struct{})
	srv := startServer(t, []string{
		"POPGATE_LISTEN=127.0.0.1:0",
		"POPGATE_BACKENDS=legacy=pop3://" + dovecot.Addr + ",native=mbox://" + spools + "/%u",
		"POPGATE_DEFAULT_BACKEND=native",
		"POPGATE_ROUTES=" + routesFile,
		"POPGATE_USERS_FILE=" + users,
		"POPGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"POPGATE_AUTH_FAIL_DELAY=0s",
		"POPGATE_ADMIN_LISTEN=off",
	}, Hooks{Reload: reload})
	addr := srv.addrs.Plain.String()

	client := testpeer.NewPoplib(t, addr, "rachel", "pw")
	if got := client.Poll(); len(got) != 5 {
		t.Fatalf("first poll on legacy fetched %d messages, want 5", len(got))
	}
	writeFile(routesFile, "rachel native\n")
	reload <- struct{}{}
	waitLog(t, srv.stdout, "routes reloaded", "cause", "SIGHUP")

	deliverAfterMove(t, spool)

	got := client.Poll()
	if len(got) != 1 || !bytes.Contains(got[0].Body, []byte("after the move")) {
		t.Fatalf("poll after the move fetched %d messages, want only the new one", len(got))
	}
	if again := client.Poll(); len(again) != 0 {
		t.Errorf("a third poll fetched %d messages", len(again))
	}
	if code := srv.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	lines := srv.stdout.Lines(t, "session")
	if len(lines) != 3 {
		t.Fatalf("%d session lines, want 3", len(lines))
	}
	if l := lines[1]; l["backend"] != "native" || l["uidl_mapped"] != float64(5) || l["uidl_unmapped"] != float64(1) {
		t.Errorf("session after the move: %v; want 5 mapped and 1 unmapped on native", l)
	}
}

// movingUser starts a Dovecot holding rachel's 5 messages, and writes the
// same mail to DIR/spool/rachel for a native mbox backend, with a users
// file DIR/users giving her the same password.
func movingUser(t *testing.T) (dovecot *testpeer.Server, dir, spools, users string) {
	t.Helper()
	mbox := testpeer.SimpleMbox(5)
	dovecot = testpeer.StartDovecot(t, testpeer.DovecotOptions{
		Users: []testpeer.User{{Name: "rachel", Password: "pw", Mbox: mbox}},
	})
	dir = t.TempDir()
	spools = filepath.Join(dir, "spool")
	if err := os.MkdirAll(spools, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spools, "rachel"), mbox, 0o600); err != nil {
		t.Fatal(err)
	}
	users = filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("rachel:{PLAIN}pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dovecot, dir, spools, users
}

// deliverAfterMove appends the message "after the move" to an mbox spool.
func deliverAfterMove(t *testing.T, spool string) {
	t.Helper()
	f, err := os.OpenFile(spool, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(testpeer.MboxMessage([]byte("From: x@example.org\nSubject: after the move\nMessage-ID: <after@x>\n\nnew\n"))); err != nil {
		t.Fatal(err)
	}
}

// TestUIDLImportAndShow seeds the map from POP3-NOTES' test.mbox with the
// popa3d scheme and reads back popa3d's published UIDLs.
func TestUIDLImportAndShow(t *testing.T) {
	dir := t.TempDir()
	spools := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spools, 0o700); err != nil {
		t.Fatal(err)
	}
	mbox, err := os.ReadFile("../../uidl/testdata/test.mbox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spools, "rachel"), mbox, 0o600); err != nil {
		t.Fatal(err)
	}
	vars := []string{"DATA_DIR=" + filepath.Join(dir, "data"), "BACKENDS=legacy=pop3://127.0.0.1:1", "DEFAULT_BACKEND=legacy", "ADMIN_LISTEN=off"}
	code, stdout, stderr := runCmd(t, vars, "uidl", "import", "-scheme", "popa3d", "-quiet", spools)
	if code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, vars, "uidl", "show", "rachel")
	if code != exitOK {
		t.Fatalf("show: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, uid := range []string{"5a1c96ef726da04b", "4caf80ee9caa6971", "6188f630301904cb", "b4f882b8be2b83e0", "10823bdaeca213cc"} {
		if !strings.Contains(stdout, uid) {
			t.Errorf("show lacks popa3d's UIDL %s:\n%s", uid, stdout)
		}
	}
}
