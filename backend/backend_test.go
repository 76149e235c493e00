package backend

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

func TestMboxSession(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../uidl/testdata/test.mbox", filepath.Join(dir, "rachel"))
	b, _ := newTestBackend(t, KindMbox, dir+"/%u", "", uidl.Popa3d)
	ctx := context.Background()
	m := login(t, b, "rachel")
	want := "5a1c96ef726da04b 4caf80ee9caa6971 6188f630301904cb b4f882b8be2b83e0 10823bdaeca213cc"
	if got := strings.Join(uidList(t, m), " "); got != want {
		t.Fatalf("UIDL = %s, want %s", got, want)
	}
	list, _ := m.List(ctx, 0)
	var total int64
	for _, mi := range list {
		rc, err := m.Retr(ctx, mi.Num)
		body := readMsg(t, rc, err)
		if int64(len(body)) != mi.Size {
			t.Errorf("msg %d: LIST %d, RETR %d bytes", mi.Num, mi.Size, len(body))
		}
		total += mi.Size
	}
	if n, size, _ := m.Stat(ctx); n != 5 || size != total {
		t.Errorf("STAT = %d %d, want 5 %d", n, size, total)
	}
	rc, err := m.Top(ctx, 2, 0)
	if top := readMsg(t, rc, err); !strings.HasSuffix(top, "Status: RO\r\n\r\n") {
		t.Errorf("TOP 2 0 = %q", top)
	}
	if err := m.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Retr(ctx, 2); !errors.Is(err, pop3.ErrMessageDeleted) {
		t.Errorf("RETR of a deleted message: %v", err)
	}
	if _, err := m.Retr(ctx, 6); !errors.Is(err, pop3.ErrNoSuchMessage) {
		t.Errorf("RETR 6: %v", err)
	}
	m.Rset(ctx)
	m.Dele(ctx, 2)
	m.Dele(ctx, 4)
	res, err := m.Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeletedMsgs != 2 || res.LeftMsgs != 3 || res.DeletedBytes+res.LeftBytes != total {
		t.Errorf("Update = %+v (total %d)", res, total)
	}
	m = login(t, b, "rachel")
	defer m.Close()
	if got := strings.Join(uidList(t, m), " "); got != "5a1c96ef726da04b 6188f630301904cb 10823bdaeca213cc" {
		t.Errorf("after UPDATE: UIDL = %s", got)
	}
}

func TestDuplicatesRenamed(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../uidl/testdata/edge.mbox", filepath.Join(dir, "bob"))
	b, _ := newTestBackend(t, KindMbox, dir+"/%u", "", uidl.Popa3d)
	m := login(t, b, "bob")
	defer m.Close()
	want := "d98c1dd404b2008f d98c1dd404b2008f-2 e969f85e5f2a579f d98c1dd404b2008f-3 100e6a907106c693"
	if got := strings.Join(uidList(t, m), " "); got != want {
		t.Errorf("UIDL = %s, want %s", got, want)
	}
}

func TestInUse(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../uidl/testdata/test.mbox", filepath.Join(dir, "rachel"))
	b, _ := newTestBackend(t, KindMbox, dir+"/%u", t.TempDir(), "")
	m := login(t, b, "rachel")
	_, err := open(b, "rachel")
	if pop3.CodeOf(err) != pop3.CodeInUse || !strings.Contains(err.Error(), "session s") {
		t.Fatalf("second session: %v, want IN-USE naming the holder", err)
	}
	m.Close()
	m = login(t, b, "rachel")
	m.Close()
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	b, _ := newTestBackend(t, KindMbox, dir+"/%u", "", "")
	m := login(t, b, "nobody") // no spool file: an empty maildrop
	if n, size, _ := m.Stat(context.Background()); n != 0 || size != 0 {
		t.Errorf("missing mbox: STAT %d %d", n, size)
	}
	if _, err := m.Update(context.Background()); err != nil {
		t.Errorf("Update of an empty maildrop: %v", err)
	}

	os.Mkdir(filepath.Join(dir, "isdir"), 0o700)
	_, err := open(b, "isdir")
	var pe *pop3.Error
	if !errors.As(err, &pe) || pe.Code != pop3.CodeSysPerm || strings.Contains(pe.Text, dir) ||
		!strings.Contains(err.Error(), filepath.Join(dir, "isdir")) {
		t.Errorf("directory as mbox: %v (want SYS/PERM, generic text, path in cause)", err)
	}

	if os.Geteuid() != 0 {
		copyFile(t, "../uidl/testdata/test.mbox", filepath.Join(dir, "rachel"))
		os.Chmod(filepath.Join(dir, "rachel"), 0)
		_, err := open(b, "rachel")
		if pop3.CodeOf(err) != pop3.CodeSysPerm || !strings.Contains(err.Error(), "open "+filepath.Join(dir, "rachel")+": permission denied") {
			t.Errorf("unreadable mbox: %v", err)
		}
	}

	for _, u := range []string{"../etc/passwd", "a/b", ".hidden", "x\x00y", ""} {
		if _, err := open(b, u); pop3.CodeOf(err) != pop3.CodeAuth {
			t.Errorf("user %q: %v, want AUTH", u, err)
		}
	}
	_, err = b.Open(context.Background(), pop3.Credentials{User: "rachel", Password: "bad"})
	if pop3.CodeOf(err) != pop3.CodeAuth {
		t.Errorf("bad password: %v", err)
	}
}

func TestExpandPath(t *testing.T) {
	for _, tc := range []struct{ pattern, user, want string }{
		{"/var/mail/%u", "rachel", "/var/mail/rachel"},
		{"/srv/%d/%n/Maildir", "bob@example.org", "/srv/example.org/bob/Maildir"},
		{"/srv/100%%/%u", "a@b", "/srv/100%/a@b"},
	} {
		if got, err := expandPath(tc.pattern, tc.user); err != nil || got != tc.want {
			t.Errorf("expandPath(%q, %q) = %q, %v", tc.pattern, tc.user, got, err)
		}
	}
	if _, err := expandPath("/srv/%d/%n", "nodomain"); err == nil {
		t.Errorf("a pattern with %%d accepted a user without a domain")
	}
}

func TestFromURL(t *testing.T) {
	u, _ := url.Parse("maildir:///srv/mail/%25u/Maildir?uidl=xuidl&max_sessions=40&lock_timeout=3s&index_cache=10&hide_headers=true&auth_backend=legacy")
	o, err := FromURL("native", u, "/data")
	if err != nil {
		t.Fatal(err)
	}
	if o.Kind != KindMaildir || o.PathPattern != "/srv/mail/%u/Maildir" || o.UIDL != uidl.XUIDL ||
		o.MaxSessions != 40 || o.LockTimeout.Seconds() != 3 || o.IndexCacheSize != 10 || o.DataDir != "/data" || !o.HideHeaders || o.AuthBackend != "legacy" {
		t.Errorf("FromURL = %+v", o)
	}
	for raw, want := range map[string]string{
		"mbox:///var/mail/%u":       "/var/mail/%u",
		"maildir:///srv/%d/%n/Mail": "/srv/%d/%n/Mail",
		"mbox:///srv/100%%/%u":      "/srv/100%%/%u",
		"mbox:///srv/caf%C3%A9/%u":  "/srv/caf\u00e9/%u",
	} {
		u, err := config.ParseBackendURL(raw)
		if err != nil {
			t.Fatalf("ParseBackendURL(%s): %v", raw, err)
		}
		if o, err := FromURL("n", u, ""); err != nil || o.PathPattern != want {
			t.Errorf("FromURL(%s) = %q, %v; want %q", raw, o.PathPattern, err, want)
		}
	}
	wd, _ := os.Getwd()
	if o, err := FromURL("n", &url.URL{Scheme: "maildir", Path: "./mail/%u/Maildir"}, ""); err != nil || o.PathPattern != wd+"/mail/%u/Maildir" {
		t.Errorf("relative path: %q, %v", o.PathPattern, err)
	}
	for raw, param := range map[string]string{
		"mbox:///var/mail/%25u?uidl=md5":           "uidl",
		"mbox:///var/mail/%25u?max_sessions=-1":    "max_sessions",
		"mbox:///var/mail/%25u?lock_timeout=soon":  "lock_timeout",
		"mbox:///var/mail/%25u?colour=blue":        "colour",
		"mbox:///var/mail/%25u?hide_headers=maybe": "hide_headers",
		"mbox:///var/mail/%25u?auth_backend=":      "auth_backend",
		"pop3://host/":                             "scheme",
		"mbox://host/var/mail":                     "host",
	} {
		u, _ := url.Parse(raw)
		if _, err := FromURL("n", u, ""); err == nil || !strings.Contains(err.Error(), param) {
			t.Errorf("FromURL(%s): %v, want an error naming %s", raw, err, param)
		}
	}
}

func TestMaildirSession(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "bob", "Maildir")
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o700)
	}
	os.WriteFile(filepath.Join(dir, "new", "1.a.h"), []byte("Subject: a\n\nA\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "new", "2.b.h"), []byte("Subject: b\n\nB"), 0o600)
	os.WriteFile(filepath.Join(dir, "cur", "3.c.h:2,S"), []byte("Subject: c\n\nC\n"), 0o600)
	b, log := newTestBackend(t, KindMaildir, root+"/%u/Maildir", t.TempDir(), "")
	ctx := context.Background()
	m := login(t, b, "bob")
	if got := strings.Join(uidList(t, m), " "); got != "1.a.h 2.b.h 3.c.h" {
		t.Fatalf("UIDL = %s", got)
	}
	rc, err := m.Retr(ctx, 2)
	if got := readMsg(t, rc, err); got != "Subject: b\r\n\r\nB\r\n" {
		t.Errorf("RETR 2 = %q", got)
	}
	m.Dele(ctx, 1)
	if _, err := m.Update(ctx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			names = append(names, sub+"/"+e.Name())
		}
	}
	if got := strings.Join(names, " "); got != "cur/2.b.h:2,S cur/3.c.h:2,S" {
		t.Errorf("after UPDATE: %s", got)
	}
	os.WriteFile(filepath.Join(dir, "new", "4.d.h"), []byte("Subject: d\n\nD\n"), 0o600)
	log.last()
	m = login(t, b, "bob")
	defer m.Close()
	if scan, work := log.last(); work != 1 {
		t.Errorf("poll after one delivery read %d files (%s), want 1", work, scan)
	}
	if got := strings.Join(uidList(t, m), " "); got != "2.b.h 3.c.h 4.d.h" {
		t.Errorf("UIDL = %s", got)
	}
	// Another client re-flags message 3 after the listing: RETR finds it.
	os.Rename(filepath.Join(dir, "cur", "3.c.h:2,S"), filepath.Join(dir, "cur", "3.c.h:2,FS"))
	rc, err = m.Retr(ctx, 2)
	if got := readMsg(t, rc, err); got != "Subject: c\r\n\r\nC\r\n" {
		t.Errorf("RETR of a re-flagged message = %q", got)
	}
}

func TestHideHeaders(t *testing.T) {
	spool := t.TempDir()
	os.WriteFile(filepath.Join(spool, "rachel"), []byte("From a b\nStatus: RO\nX-UID: 7\nSubject: s\n\nbody\n"), 0o600)
	md := filepath.Join(spool, "md")
	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o700)
	}
	os.WriteFile(filepath.Join(md, "new", "1.a.h"), []byte("X-Keywords: $x\nSubject: s\n\nbody\n"), 0o600)
	ctx := context.Background()
	for kind, pattern := range map[string]string{KindMbox: spool + "/%u", KindMaildir: spool + "/md"} {
		b, err := New(Options{Name: "n", Kind: kind, PathPattern: pattern, Auth: stubAuth{}, HideHeaders: true})
		if err != nil {
			t.Fatal(err)
		}
		m := login(t, b, "rachel")
		l, _ := m.List(ctx, 1)
		rc, err := m.Retr(ctx, 1)
		got := readMsg(t, rc, err)
		if got != "Subject: s\r\n\r\nbody\r\n" || int64(len(got)) != l[0].Size {
			t.Errorf("%s: RETR %q, LIST size %d", kind, got, l[0].Size)
		}
		rc, err = m.Top(ctx, 1, 0)
		if got := readMsg(t, rc, err); got != "Subject: s\r\n\r\n" {
			t.Errorf("%s: TOP 1 0 = %q", kind, got)
		}
		m.Close()
		b.Close()
	}
}

type apopAuth struct {
	stubAuth
	plain map[string]bool
}

func (a apopAuth) CanAPOP(user string) bool { return a.plain[user] }

type apopAuthSome struct{ apopAuth }

func (a apopAuthSome) SupportsAPOP() bool { return len(a.plain) > 0 }

func TestAPOP(t *testing.T) {
	dir := t.TempDir()
	newB := func(a Authenticator) *Backend {
		b, err := New(Options{Name: "n", Kind: KindMbox, PathPattern: dir + "/%u", Auth: a})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if newB(stubAuth{}).SupportsAPOP() {
		t.Error("an authenticator without APOP support made the backend offer APOP")
	}
	b := newB(apopAuth{plain: map[string]bool{"rachel": true}})
	if !b.SupportsAPOP() {
		t.Error("APOPChecker: SupportsAPOP false")
	}
	if newB(apopAuthSome{apopAuth{plain: map[string]bool{}}}).SupportsAPOP() {
		t.Error("an authenticator that says it has no APOP users made the backend offer APOP")
	}
	apop := func(user string) error {
		m, err := b.Open(context.Background(), pop3.Credentials{Mechanism: pop3.MechAPOP, User: user, Password: "pw"})
		if err == nil {
			m.Close()
		}
		return err
	}
	if err := apop("rachel"); err != nil {
		t.Errorf("APOP for a user with a plain secret: %v", err)
	}
	if err := apop("bob"); pop3.CodeOf(err) != pop3.CodeAuth {
		t.Errorf("APOP for a user without one: %v, want AUTH", err)
	}
}
