package backend

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// rawFetch logs in, lists UIDLs and retrieves every message over a plain
// POP3 conversation. Unlike the real clients it keeps duplicate UIDLs.
func rawFetch(t *testing.T, addr, user, pass string) []testpeer.Message {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := pop3.NewReader(conn)
	cmd := func(line string) pop3.Response {
		t.Helper()
		if line != "" {
			fmt.Fprintf(conn, "%s\r\n", line)
		}
		resp, err := r.ReadResponse()
		if err != nil || !resp.OK {
			t.Fatalf("popa3d: %q: %+v, %v", line, resp, err)
		}
		return resp
	}
	cmd("")
	cmd("USER " + user)
	cmd("PASS " + pass)
	cmd("UIDL")
	list, err := io.ReadAll(r.DotReader())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []testpeer.Message
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\r\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		cmd("RETR " + f[0])
		body, err := io.ReadAll(r.DotReader())
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, testpeer.Message{UIDL: f[1], Body: body})
	}
	cmd("QUIT")
	return msgs
}

// The native backend with uidl=popa3d serves the same mbox as the real
// popa3d with the same UIDLs and the same RETR bytes, except where
// docs/native-backend.md documents a difference (checked at the end).
func TestSameAsPopa3d(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	headerOnly := []byte("From a@b Sat Jan 10 10:00:00 2004\nSubject: headers only\nMessage-ID: <h@x>\n\nFrom a@b Sat Jan 10 10:00:01 2004\nSubject: next\n\nbody\n\n")
	boxes := map[string][]byte{
		"test":   read("../uidl/testdata/test.mbox"),
		"edge":   read("../uidl/testdata/edge.mbox"),
		"tricky": testpeer.TrickyMbox(),
		"header": headerOnly,
	}
	var users []testpeer.User
	for name, content := range boxes {
		users = append(users, testpeer.User{Name: name, Password: "pw-" + name, Mbox: content})
	}
	srv := testpeer.StartPopa3d(t, users)

	spool := t.TempDir()
	b, _ := newTestBackend(t, KindMbox, spool+"/%u", "", uidl.Popa3d)
	ctx := context.Background()
	for name, content := range boxes {
		theirs := rawFetch(t, srv.Addr, srv.Login(name), "pw-"+name)
		os.WriteFile(filepath.Join(spool, name), content, 0o600)
		m := login(t, b, name)
		ours, err := m.Uidl(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ours) != len(theirs) {
			t.Fatalf("%s: %d messages, popa3d %d", name, len(ours), len(theirs))
		}
		for i, mi := range ours {
			rc, err := m.Retr(ctx, mi.Num)
			body := []byte(readMsg(t, rc, err))
			// popa3d serves duplicate UIDLs; we rename them (-2, -3, ...).
			want := theirs[i].UIDL
			if name == "edge" && (i == 1 || i == 3) {
				want = fmt.Sprintf("%s-%d", want, map[int]int{1: 2, 3: 3}[i])
			}
			if mi.UID != want {
				t.Errorf("%s msg %d: UIDL %s, popa3d %s", name, mi.Num, mi.UID, theirs[i].UIDL)
			}
			if name == "header" && i == 0 {
				// Documented: popa3d keeps the separator blank line of a
				// message without a body; we never serve the separator.
				if !bytes.Equal(append(body, "\r\n"...), theirs[i].Body) {
					t.Errorf("header-only message: ours %q, popa3d %q", body, theirs[i].Body)
				}
				continue
			}
			if !bytes.Equal(body, theirs[i].Body) {
				t.Errorf("%s msg %d: RETR differs from popa3d:\nours   %.200q\npopa3d %.200q", name, mi.Num, body, theirs[i].Body)
			}
		}
		m.Close()
	}
}
