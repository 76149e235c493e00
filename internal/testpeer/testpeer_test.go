package testpeer

import (
	"bytes"
	"os/user"
	"strings"
	"testing"
)

// startBoth starts Dovecot and popa3d, each with one user "alice" holding mbox.
func startBoth(t *testing.T, mbox []byte) []*Server {
	t.Helper()
	users := []User{{Name: "alice", Password: "s3cret pw", Mbox: mbox}}
	return []*Server{
		StartDovecot(t, DovecotOptions{Users: users}),
		StartPopa3d(t, users),
	}
}

// toLF is what a client that stores mail with Unix line ends should keep.
func toLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// digits keeps only the ASCII digits of b.
func digits(b []byte) []byte {
	return bytes.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, b)
}

// sameMessages compares UIDLs and bodies, after norm is applied to the
// reference bodies (what the server sent).
func sameMessages(t *testing.T, client string, got, want []Message, norm func(Message, []byte) []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s got %d messages, want %d", client, len(got), len(want))
	}
	for i := range want {
		if got[i].UIDL != want[i].UIDL {
			t.Errorf("%s message %d: UIDL %q, want %q", client, i+1, got[i].UIDL, want[i].UIDL)
		}
		if w := norm(want[i], got[i].Body); !bytes.Equal(got[i].Body, w) {
			t.Errorf("%s message %d: body differs (%d bytes, want %d)\n got: %.200q\nwant: %.200q",
				client, i+1, len(got[i].Body), len(w), got[i].Body, w)
		}
	}
}

// TestClientsFetchTrickyMbox fetches TrickyMbox from both servers with every
// client and compares with what a minimal raw client sees for RETR.
func TestClientsFetchTrickyMbox(t *testing.T) {
	t.Parallel()
	for _, srv := range startBoth(t, TrickyMbox()) {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			login := srv.Login("alice")
			raw := DialRaw(t, srv.Addr, login, "s3cret pw")
			want := allMessages(t, raw)
			raw.Quit()
			if len(want) != TrickyCount {
				t.Fatalf("raw RETR: %d messages, want %d", len(want), TrickyCount)
			}
			for _, c := range Clients() {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					got := c.New(t, srv.Addr, login, "s3cret pw").Poll()
					sameMessages(t, c.Name, got, want, clientNorm[c.Name])
				})
			}
		})
	}
}

// clientNorm gives, per client, the bytes it should have stored for what
// the server sent (w), given what it did store (got).
var clientNorm = map[string]func(w Message, got []byte) []byte{
	"poplib":    func(w Message, _ []byte) []byte { return w.Body },
	"curl":      func(w Message, _ []byte) []byte { return w.Body },
	"mpop":      func(w Message, _ []byte) []byte { return toLF(w.Body) },
	"getmail":   func(w Message, _ []byte) []byte { return toLF(w.Body) },
	"fetchmail": fetchmailNorm,
}

// fetchmailNorm: fetchmail breaks lines longer than 8191 bytes (and 6.4.37
// puts stray bytes before each break), so for the 100 KB line compare the
// headers exactly and the body's digits only.
func fetchmailNorm(w Message, got []byte) []byte {
	want := toLF(w.Body)
	wantHead, wantBody, _ := bytes.Cut(want, []byte("\n\n"))
	gotHead, gotBody, _ := bytes.Cut(got, []byte("\n\n"))
	if len(wantBody) > 8191 && bytes.Equal(gotHead, wantHead) &&
		bytes.Equal(digits(gotBody), digits(wantBody)) {
		return got
	}
	return want
}

// TestServersAgreeOnTrickyMbox pins POP3-NOTES §10: for these messages both
// servers send the same bytes for RETR.
func TestServersAgreeOnTrickyMbox(t *testing.T) {
	t.Parallel()
	var sent [][]Message
	for _, srv := range startBoth(t, TrickyMbox()) {
		raw := DialRaw(t, srv.Addr, srv.Login("alice"), "s3cret pw")
		sent = append(sent, allMessages(t, raw))
		raw.Quit()
	}
	for i := range sent[0] {
		if !bytes.Equal(sent[0][i].Body, sent[1][i].Body) {
			t.Errorf("message %d: dovecot sent %.120q, popa3d %.120q", i+1, sent[0][i].Body, sent[1][i].Body)
		}
	}
	// And they are the mbox messages with CRLF line ends, the last one
	// given the line end it lacked.
	msgs := SplitMbox(TrickyMbox())
	for i, m := range msgs {
		want := bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n"))
		if !bytes.HasSuffix(want, []byte("\r\n")) {
			want = append(want, "\r\n"...)
		}
		if !bytes.Equal(sent[0][i].Body, want) {
			t.Errorf("message %d: dovecot sent %.120q, want %.120q", i+1, sent[0][i].Body, want)
		}
	}
}

// TestPollersRememberSeen checks each client's persistent state: a second
// poll fetches nothing, and after a delivery only the new message. Each
// client has its own user, so the subtests run in parallel. The state is
// the client's, so popa3d (slow to log in) runs only two clients.
func TestPollersRememberSeen(t *testing.T) {
	t.Parallel()
	var users []User
	for _, c := range Clients() {
		users = append(users, User{Name: c.Name, Password: "pw " + c.Name, Mbox: SimpleMbox(2)})
	}
	servers := []*Server{StartDovecot(t, DovecotOptions{Users: users}), StartPopa3d(t, users)}
	for _, srv := range servers {
		for _, c := range Clients() {
			if srv.Name == "popa3d" && c.Name != "poplib" && c.Name != "fetchmail" {
				continue
			}
			t.Run(srv.Name+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				p := c.New(t, srv.Addr, srv.Login(c.Name), "pw "+c.Name)
				if got := p.Poll(); len(got) != 2 {
					t.Fatalf("first poll: %d messages, want 2", len(got))
				}
				if got := p.Poll(); len(got) != 0 {
					t.Fatalf("second poll: %d messages, want 0", len(got))
				}
				subject := "for " + c.Name
				srv.Deliver(t, c.Name, []byte("Subject: "+subject+"\nMessage-ID: <"+c.Name+"@x>\n\nnew mail\n"))
				got := p.Poll()
				if len(got) != 1 || !bytes.Contains(got[0].Body, []byte(subject)) {
					t.Fatalf("poll after delivery: %d messages %q, want only %q", len(got), got, subject)
				}
			})
		}
	}
}

// TestPoplibWrongPassword checks that a failed login is an error, not an
// empty maildrop.
func TestPoplibWrongPassword(t *testing.T) {
	t.Parallel()
	srv := StartDovecot(t, DovecotOptions{Users: []User{{Name: "bob", Password: "right", Mbox: SimpleMbox(1)}}})
	if msgs, err := NewPoplib(t, srv.Addr, "bob", "wrong").TryPoll(); err == nil {
		t.Fatalf("wrong password: got %d messages and no error", len(msgs))
	}
}

// TestPoplibDelete checks that delete mode empties the maildrop.
func TestPoplibDelete(t *testing.T) {
	t.Parallel()
	srv := StartDovecot(t, DovecotOptions{Users: []User{{Name: "bob", Password: "pw", Mbox: SimpleMbox(3)}}})
	if got := Poplib(t, srv.Addr, "bob", "pw", PoplibDelete()); len(got) != 3 {
		t.Fatalf("delete poll: %d messages, want 3", len(got))
	}
	if got := Poplib(t, srv.Addr, "bob", "pw"); len(got) != 0 {
		t.Fatalf("after delete: %d messages left, want 0", len(got))
	}
}

// TestDovecotReuseXUIDL checks that stored X-UIDL headers become UIDLs,
// with Maildir storage and SetMbox after start.
func TestDovecotReuseXUIDL(t *testing.T) {
	t.Parallel()
	srv := StartDovecot(t, DovecotOptions{Users: []User{{Name: "carol", Password: "pw"}}, Maildir: true, ReuseXUIDL: true})
	mbox := append(MboxMessage([]byte("X-UIDL: legacy-one\nSubject: a\n\nbody a\n")),
		MboxMessage([]byte("Subject: b\n\nbody b\n"))...)
	srv.SetMbox(t, "carol", mbox)
	got := Poplib(t, srv.Addr, "carol", "pw")
	if len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
	if got[0].UIDL != "legacy-one" {
		t.Errorf("message 1 UIDL %q, want the stored X-UIDL", got[0].UIDL)
	}
	if got[1].UIDL == "legacy-one" || got[1].UIDL == "" {
		t.Errorf("message 2 UIDL %q, want Dovecot's own", got[1].UIDL)
	}
}

// TestPopa3dRemovesUsers checks that the generated system users are gone
// once the test that created them ends.
func TestPopa3dRemovesUsers(t *testing.T) {
	t.Parallel()
	var login string
	t.Run("start", func(t *testing.T) {
		srv := StartPopa3d(t, []User{{Name: "dave", Password: "pw", Mbox: SimpleMbox(1)}})
		login = srv.Login("dave")
		if login == "dave" {
			t.Fatalf("login %q is not a generated name", login)
		}
		if _, err := user.Lookup(login); err != nil {
			t.Fatalf("user %s missing while the server runs: %v", login, err)
		}
	})
	if login == "" {
		t.Skip("popa3d did not start")
	}
	if _, err := user.Lookup(login); err == nil {
		t.Errorf("user %s still exists after the test ended", login)
	}
}

// TestDovecotTLS fetches over STLS and implicit TLS with a certificate from
// NewTLSFiles, and checks that a client trusting another CA is refused.
func TestDovecotTLS(t *testing.T) {
	t.Parallel()
	files := NewTLSFiles(t)
	srv := StartDovecot(t, DovecotOptions{Users: []User{{Name: "erin", Password: "pw", Mbox: SimpleMbox(2)}}, TLS: &files})
	if srv.TLSAddr == "" {
		t.Fatal("no TLSAddr with TLS enabled")
	}
	if got := Poplib(t, srv.Addr, "erin", "pw", PoplibSTLS(files.CAFile)); len(got) != 2 {
		t.Errorf("STLS: %d messages, want 2", len(got))
	}
	if got := Poplib(t, srv.TLSAddr, "erin", "pw", PoplibImplicitTLS(files.CAFile)); len(got) != 2 {
		t.Errorf("implicit TLS: %d messages, want 2", len(got))
	}
	other := NewTLSFiles(t)
	if _, err := NewPoplib(t, srv.TLSAddr, "erin", "pw", PoplibImplicitTLS(other.CAFile)).TryPoll(); err == nil {
		t.Error("a client trusting another CA fetched mail")
	}
}

// TestServersDiffer pins differences listed in POP3-NOTES §10, so tests
// that compare the two servers know what to expect.
func TestServersDiffer(t *testing.T) {
	t.Parallel()
	mbox := []byte(fromLine + "Subject: status\nStatus: RO\n\nbody\n\n" +
		fromLine + "Subject: headers only\n\n" +
		fromLine + "Subject: last\n\nno final newline")
	servers := startBoth(t, mbox)
	var sent [][]Message
	var sizes [][]string
	for _, srv := range servers {
		raw := DialRaw(t, srv.Addr, srv.Login("alice"), "s3cret pw")
		sent = append(sent, allMessages(t, raw))
		sizes = append(sizes, strings.Fields(string(raw.Block("LIST"))))
		raw.Quit()
	}
	dovecot, popa3d := sent[0], sent[1]
	if bytes.Contains(dovecot[0].Body, []byte("Status:")) || !bytes.Contains(popa3d[0].Body, []byte("Status: RO")) {
		t.Errorf("Status header: dovecot sent %q, popa3d %q; want it hidden by dovecot only", dovecot[0].Body, popa3d[0].Body)
	}
	if !bytes.Equal(dovecot[2].Body, popa3d[2].Body) {
		t.Errorf("no final newline: dovecot sent %q, popa3d %q; want the same", dovecot[2].Body, popa3d[2].Body)
	}
	// LIST "3 n": the sizes of the last message differ by one.
	if len(sizes[0]) != 6 || len(sizes[1]) != 6 || sizes[0][5] == sizes[1][5] {
		t.Errorf("LIST: dovecot %q, popa3d %q; want different sizes for message 3", sizes[0], sizes[1])
	}
	if string(dovecot[1].Body) != "Subject: headers only\r\n" || string(popa3d[1].Body) != "Subject: headers only\r\n\r\n" {
		t.Errorf("headers only: dovecot sent %q, popa3d %q; want popa3d to add an empty line", dovecot[1].Body, popa3d[1].Body)
	}
}

// TestStop checks that a stopped server refuses connections.
func TestStop(t *testing.T) {
	t.Parallel()
	srv := StartDovecot(t, DovecotOptions{Users: []User{{Name: "a", Password: "b"}}})
	srv.Stop()
	if _, err := greeting(srv.Addr); err == nil {
		t.Fatal("a stopped server still greets")
	}
	srv.Stop() // idempotent
}

// TestDovecotUnderLongTestName: Dovecot's sockets must not live under a
// t.TempDir, whose path grows with the test name past the 107-byte limit
// of a socket path.
func TestDovecotUnderLongTestName(t *testing.T) {
	t.Parallel()
	t.Run("a_subtest_whose_name_is_long_enough_to_make_its_temp_dir_path_long", func(t *testing.T) {
		srv := StartDovecot(t, DovecotOptions{Users: []User{{Name: "a", Password: "b", Mbox: SimpleMbox(1)}}})
		if got := Poplib(t, srv.Addr, "a", "b"); len(got) != 1 {
			t.Fatalf("%d messages, want 1", len(got))
		}
	})
}

// TestGetmailOptions checks that read_all refetches seen mail and delete
// empties the maildrop.
func TestGetmailOptions(t *testing.T) {
	t.Parallel()
	srv := StartDovecot(t, DovecotOptions{Users: []User{{Name: "g", Password: "pw", Mbox: SimpleMbox(2)}}})
	all := NewGetmailWith(t, srv.Addr, "g", "pw", GetmailOptions{ReadAll: true})
	all.Poll()
	if got := all.Poll(); len(got) != 2 {
		t.Errorf("read_all second poll: %d messages, want 2", len(got))
	}
	if got := NewGetmailWith(t, srv.Addr, "g", "pw", GetmailOptions{Delete: true}).Poll(); len(got) != 2 {
		t.Errorf("delete poll: %d messages, want 2", len(got))
	}
	if got := Poplib(t, srv.Addr, "g", "pw"); len(got) != 0 {
		t.Errorf("after getmail delete: %d messages left, want 0", len(got))
	}
}
