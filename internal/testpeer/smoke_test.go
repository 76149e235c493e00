package testpeer

import "testing"

func TestSmokePopa3d(t *testing.T) {
	srv := StartPopa3d(t, []User{{Name: "alice", Password: "pw", Mbox: TrickyMbox()}})
	s := dialRaw(t, srv.Addr, srv.Login("alice"), "pw")
	msgs := s.all()
	s.quit()
	for _, m := range msgs {
		t.Logf("%s %d %q", m.UIDL, len(m.Body), string(m.Body[:min(len(m.Body), 100)]))
	}
	got := Poplib(t, srv.Addr, srv.Login("alice"), "pw")
	t.Logf("poplib %d", len(got))
}
