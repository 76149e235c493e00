package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/uidl"
)

// TestNativeBackendAsServiceUser runs popgate as a service user whose only
// group is mail, without capabilities, on maildrops that belong to another
// user, laid out as on Debian: the spool directory root:mail 2775, an mbox
// owner:mail 0660, a Maildir whose directories are owner:mail 2770 and whose
// messages are owner:mail 0660. A client deletes a message and quits: QUIT
// must succeed, the message must be gone, and the maildrop must keep its
// owner, group and mode (and an mbox its inode), so that the delivery
// agents, running as the owner, go on as before.
func TestNativeBackendAsServiceUser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	testpeer.RequireRoot(t, "running popgate as another user")
	owner := testpeer.NewSystemUser(t, "")
	service := testpeer.NewSystemUser(t, "mail")
	mailGID := service.GID

	// The binary, users file and data directory as a package would
	// install them: readable, and the data directory the service's own.
	base := testpeer.SharedTempDir(t)
	bin := filepath.Join(base, "popgate")
	built, err := os.ReadFile(buildPopgate(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, built, 0o755); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(base, "users")
	if err := os.WriteFile(users, []byte("rachel:{PLAIN}pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	service.Chown(t, service.GID, users, data)

	rng := rand.New(rand.NewPCG(rand.Uint64(), 3))
	msgs := make([][]byte, 3)
	for i := range msgs {
		msgs[i] = testMessage(rng, fmt.Sprintf("m%d", i))
	}
	serve := func(t *testing.T, backend string) {
		t.Helper()
		addr, sock := activationSocket(t)
		gate := startActivatedAs(t, bin, sock, nativeGateEnv(addr, backend, users, data), service.Credential())
		defer func() {
			gate.stop(t) // ends the log
			for _, line := range gate.notOK() {
				t.Logf("popgate: %v", line["error"])
			}
		}()
		deleteFirst(t, addr, msgs[0])
	}

	t.Run("mbox", func(t *testing.T) {
		dir := filepath.Join(base, "spool")
		mkdirOwned(t, dir, 0, mailGID, 0o775|fs.ModeSetgid)
		spool := filepath.Join(dir, "rachel")
		var content []byte
		for _, m := range msgs {
			content = append(content, "From sender@localhost Thu Jan  1 00:00:00 2026\n"...)
			content = append(content, m...)
			content = append(content, '\n')
		}
		writeOwned(t, spool, content, owner, mailGID)
		before := statOwned(t, spool)

		serve(t, "mbox://"+dir+"/%u")

		after := statOwned(t, spool)
		if after != before {
			t.Errorf("spool was %+v, is %+v after UPDATE", before, after)
		}
		got, err := os.ReadFile(spool)
		if err != nil {
			t.Fatal(err)
		}
		res, err := mbox.Parse(bytes.NewReader(got), 0, mbox.Config{Scheme: uidl.Native})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range res.Msgs {
			id, ok := checkMessage(got[m.From:m.End])
			if !ok {
				t.Errorf("message %q corrupted", id)
			}
			ids = append(ids, id)
		}
		if fmt.Sprint(ids) != "[m1 m2]" {
			t.Errorf("spool holds %v, want [m1 m2]", ids)
		}
	})

	t.Run("maildir", func(t *testing.T) {
		top := filepath.Join(base, "maildirs")
		mkdirOwned(t, top, 0, mailGID, 0o775|fs.ModeSetgid)
		md := filepath.Join(top, "rachel")
		mkdirOwned(t, md, owner.UID, mailGID, 0o770|fs.ModeSetgid)
		for _, sub := range []string{"cur", "new", "tmp"} {
			mkdirOwned(t, filepath.Join(md, sub), owner.UID, mailGID, 0o770|fs.ModeSetgid)
		}
		for i, m := range msgs {
			name := filepath.Join(md, "new", fmt.Sprintf("17000000%02d.M%dP1.popgate.test", i, i))
			writeOwned(t, name, m, owner, mailGID)
		}
		dirs := map[string]fileOwnership{}
		for _, sub := range []string{"", "cur", "new", "tmp"} {
			dirs[sub] = statOwned(t, filepath.Join(md, sub))
		}

		serve(t, "maildir://"+top+"/%u")

		for sub, before := range dirs {
			if after := statOwned(t, filepath.Join(md, sub)); after != before {
				t.Errorf("Maildir %q was %+v, is %+v after UPDATE", sub, before, after)
			}
		}
		var ids []string
		err := filepath.WalkDir(md, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			id, ok := checkMessage(b)
			if !ok {
				t.Errorf("%s corrupted", path)
			}
			if st := statOwned(t, path); st.uid != owner.UID || st.gid != mailGID || st.mode != 0o660 {
				t.Errorf("%s is %+v after UPDATE", path, st)
			}
			ids = append(ids, id)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids) != "[m1 m2]" {
			t.Errorf("Maildir holds %v, want [m1 m2]", ids)
		}
	})
}

// deleteFirst retrieves and deletes message 1, which must be want, and
// quits, which must succeed.
func deleteFirst(t *testing.T, addr string, want []byte) {
	t.Helper()
	c, err := dialPOP(addr, "rachel", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.retr(1)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := checkMessage(got); !ok || !bytes.Equal(got, want) {
		t.Fatalf("message 1 is %q (intact %v): %q", id, ok, got)
	}
	if _, err := c.cmd("DELE 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cmd("QUIT"); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

// fileOwnership is what a rewrite must not change about a file.
type fileOwnership struct {
	ino      uint64
	uid, gid int
	mode     fs.FileMode
}

func statOwned(t *testing.T, path string) fileOwnership {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fileOwnership{ino: st.Ino, uid: int(st.Uid), gid: int(st.Gid), mode: fi.Mode() & (fs.ModePerm | fs.ModeSetgid)}
}

// writeOwned writes a mail file as a delivery agent running as owner in
// group gid leaves it: mode 0660.
func writeOwned(t *testing.T, path string, data []byte, owner testpeer.SystemUser, gid int) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		t.Fatal(err)
	}
	owner.Chown(t, gid, path)
}

// mkdirOwned creates dir for uid:gid with exactly mode, setgid included
// (Mkdir would apply the umask).
func mkdirOwned(t *testing.T, dir string, uid, gid int, mode fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}
