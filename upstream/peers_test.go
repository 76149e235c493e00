package upstream

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
)

// rawListing parses the "n value" lines of a LIST or UIDL block read with a
// raw session, the reference for what the real server sends.
func rawListing(t *testing.T, raw *testpeer.Raw, cmd string, uid bool) []pop3.MsgInfo {
	t.Helper()
	var out []pop3.MsgInfo
	for _, line := range raw.Lines(cmd) {
		var mi pop3.MsgInfo
		var err error
		if uid {
			_, err = fmt.Sscanf(line, "%d %s", &mi.Num, &mi.UID)
		} else {
			_, err = fmt.Sscanf(line, "%d %d", &mi.Num, &mi.Size)
		}
		if err != nil {
			t.Fatalf("raw %s line %q: %v", cmd, line, err)
		}
		out = append(out, mi)
	}
	return out
}

func startDovecot(t *testing.T) (*testpeer.Server, pop3.Credentials) {
	t.Helper()
	cr := pop3.Credentials{Mechanism: pop3.MechUser, User: "alice", Password: "s3cret-pw"}
	srv := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{
		{Name: cr.User, Password: cr.Password, Mbox: testpeer.TrickyMbox()},
	}})
	return srv, cr
}

// Everything read through the Backend matches, byte for byte, what a plain
// POP3 conversation with the same Dovecot returns.
func TestDovecotMatchesRawSession(t *testing.T) {
	srv, cr := startDovecot(t)
	raw := testpeer.DialRaw(t, srv.Addr, cr.User, cr.Password)
	stat := raw.OK("STAT")
	list := rawListing(t, raw, "LIST", false)
	uidl := rawListing(t, raw, "UIDL", true)
	bodies := make([][]byte, len(list))
	tops := make([][]byte, len(list))
	for i, mi := range list {
		bodies[i] = raw.Block(fmt.Sprintf("RETR %d", mi.Num))
		tops[i] = raw.Block(fmt.Sprintf("TOP %d 1", mi.Num))
	}
	raw.Quit()
	if len(list) != testpeer.TrickyCount {
		t.Fatalf("raw LIST has %d messages, want %d", len(list), testpeer.TrickyCount)
	}

	ctx := context.Background()
	m, err := New(testOptions(srv.Addr)).Open(ctx, cr)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	n, size, err := m.Stat(ctx)
	if err != nil || fmt.Sprintf("%d %d", n, size) != stat {
		t.Errorf("Stat = %d %d, %v; raw %q", n, size, err, stat)
	}
	gotList, err := m.List(ctx, 0)
	if err != nil || !reflect.DeepEqual(gotList, list) {
		t.Errorf("List = %+v, %v; raw %+v", gotList, err, list)
	}
	gotUIDL, err := m.Uidl(ctx, 0)
	if err != nil || !reflect.DeepEqual(gotUIDL, uidl) {
		t.Errorf("Uidl = %+v, %v; raw %+v", gotUIDL, err, uidl)
	}
	for i, mi := range list {
		one, err := m.List(ctx, mi.Num)
		if err != nil || len(one) != 1 || one[0] != mi {
			t.Errorf("List(%d) = %+v, %v; want %+v", mi.Num, one, err, mi)
		}
		one, err = m.Uidl(ctx, mi.Num)
		if err != nil || len(one) != 1 || one[0] != uidl[i] {
			t.Errorf("Uidl(%d) = %+v, %v; want %+v", mi.Num, one, err, uidl[i])
		}
		body := readAll(t, func() (io.ReadCloser, error) { return m.Retr(ctx, mi.Num) })
		if body != string(bodies[i]) {
			t.Errorf("Retr(%d): %d bytes differ from the raw %d bytes", mi.Num, len(body), len(bodies[i]))
		}
		top := readAll(t, func() (io.ReadCloser, error) { return m.Top(ctx, mi.Num, 1) })
		if top != string(tops[i]) {
			t.Errorf("Top(%d, 1) = %q, raw %q", mi.Num, top, tops[i])
		}
	}
	_, err = m.Retr(ctx, len(list)+1)
	wantCode(t, err, pop3.CodeNone) // Dovecot's own "no such message"
}

func TestDovecotDeleteAndUpdate(t *testing.T) {
	srv, cr := startDovecot(t)
	ctx := context.Background()
	b := New(testOptions(srv.Addr))

	// Close without Update deletes nothing.
	m, err := b.Open(ctx, cr)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	before, err := m.Uidl(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := m.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	m.Close()
	raw := testpeer.DialRaw(t, srv.Addr, cr.User, cr.Password)
	if got := rawListing(t, raw, "UIDL", true); !reflect.DeepEqual(got, before) {
		t.Fatalf("after Close without Update, UIDL = %+v, want %+v", got, before)
	}
	raw.Quit()

	// Dele + Update removes the message and reports it.
	m, err = b.Open(ctx, cr)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := m.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	res, err := m.Update(ctx)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	var total int64
	for _, mi := range sizes {
		total += mi.Size
	}
	want := pop3.UpdateResult{
		DeletedMsgs: 1, DeletedBytes: sizes[0].Size,
		LeftMsgs: len(sizes) - 1, LeftBytes: total - sizes[0].Size,
	}
	if res != want {
		t.Errorf("Update = %+v, want %+v", res, want)
	}
	raw = testpeer.DialRaw(t, srv.Addr, cr.User, cr.Password)
	after := rawListing(t, raw, "UIDL", true)
	raw.Quit()
	if len(after) != len(before)-1 || after[0].UID != before[1].UID {
		t.Errorf("after Update, UIDL = %+v, want %+v without the first", after, before)
	}
}

func TestDovecotWrongPassword(t *testing.T) {
	srv, cr := startDovecot(t)
	cr.Password = "wrong"
	_, err := New(testOptions(srv.Addr)).Open(context.Background(), cr)
	pe := wantCode(t, err, pop3.CodeAuth)
	if pe.Text == "" || strings.Contains(pe.Text, srv.Addr) {
		t.Errorf("text = %q", pe.Text)
	}
}

// Dovecot offers PIPELINING: once its capabilities are cached, a login is
// one write of USER, PASS and STAT, whether the password is right or not.
func TestDovecotPipelinedLogin(t *testing.T) {
	srv, cr := startDovecot(t)
	raw := testpeer.DialRaw(t, srv.Addr, cr.User, cr.Password)
	stat := raw.OK("STAT")
	raw.Quit()
	var log writeLog
	o := testOptions(srv.Addr)
	o.Dial = log.dial
	b := New(o)
	ctx := context.Background()
	batch := func(pass string) string { return "USER alice\r\nPASS " + pass + "\r\nSTAT\r\n" }
	for i, want := range [][]string{{"CAPA\r\n", batch(cr.Password)}, {batch(cr.Password)}} {
		m, err := b.Open(ctx, cr)
		if err != nil {
			t.Fatalf("Open %d: %v", i+1, err)
		}
		n, size, err := m.Stat(ctx)
		if err != nil || fmt.Sprintf("%d %d", n, size) != stat {
			t.Errorf("Open %d: Stat = %d %d, %v; raw %q", i+1, n, size, err, stat)
		}
		m.Close()
		if got := log.take(); !reflect.DeepEqual(got, want) {
			t.Errorf("Open %d wrote %q, want %q", i+1, got, want)
		}
	}
	// Last: Dovecot delays the next login from an address that failed.
	bad := cr
	bad.Password = "wrong"
	_, err := b.Open(ctx, bad)
	wantCode(t, err, pop3.CodeAuth)
	if got := log.take(); !reflect.DeepEqual(got, []string{batch("wrong")}) {
		t.Errorf("refused login wrote %q, want %q", got, batch("wrong"))
	}
}

// popa3d answers -ERR to CAPA and sends a bare "+OK" before bodies: the
// RFC 1939-only path.
func TestPopa3dMatchesRawSession(t *testing.T) {
	pass := "p0pa3d-pw"
	srv := testpeer.StartPopa3d(t, []testpeer.User{{Name: "bob", Password: pass, Mbox: testpeer.SimpleMbox(3)}})
	cr := pop3.Credentials{Mechanism: pop3.MechUser, User: srv.Login("bob"), Password: pass}
	raw := testpeer.DialRaw(t, srv.Addr, cr.User, cr.Password)
	list := rawListing(t, raw, "LIST", false)
	uidl := rawListing(t, raw, "UIDL", true)
	body := raw.Block("RETR 2")
	raw.Quit()

	ctx := context.Background()
	m, err := New(testOptions(srv.Addr)).Open(ctx, cr)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	if got, err := m.List(ctx, 0); err != nil || !reflect.DeepEqual(got, list) {
		t.Errorf("List = %+v, %v; raw %+v", got, err, list)
	}
	if got, err := m.Uidl(ctx, 0); err != nil || !reflect.DeepEqual(got, uidl) {
		t.Errorf("Uidl = %+v, %v; raw %+v", got, err, uidl)
	}
	if got := readAll(t, func() (io.ReadCloser, error) { return m.Retr(ctx, 2) }); got != string(body) {
		t.Errorf("Retr(2) = %q, raw %q", got, body)
	}
	if _, err := m.Update(ctx); err != nil {
		t.Errorf("Update: %v", err)
	}
}
