package throttle

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
)

// sizedBody is a message reader that knows its length.
type sizedBody struct{ *bytes.Reader }

func (sizedBody) Close() error { return nil }

type sizedMailbox struct{ fakeMailbox }

func (m *sizedMailbox) Retr(context.Context, int) (io.ReadCloser, error) {
	return sizedBody{bytes.NewReader(m.body)}, nil
}
func (m *sizedMailbox) Update(context.Context) (pop3.UpdateResult, error) {
	return pop3.UpdateResult{DeletedMsgs: 9, DeletedBytes: int64(len(m.body)), LeftMsgs: 1, LeftBytes: 10}, nil
}

// A session driven through the proxy-facing methods: a hog's UPDATE that
// deletes its mail brings it back to level 0 at the next poll.
func TestTicketAsAdmission(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	ctx := context.Background()
	poll := func(size int64) (*Ticket, pop3.Mailbox) {
		tk, err := th.AdmitUser(ctx, "hog", "legacy", clientA)
		if err != nil {
			t.Fatalf("Admit: %v", err)
		}
		tk.Authenticated(nil, 10, size)
		return tk, tk.Mailbox(&sizedMailbox{fakeMailbox{body: make([]byte, 4096)}})
	}
	tk, _ := poll(800 << 20)
	tk.Release()
	clock.Advance(time.Minute)

	tk, m := poll(800 << 20)
	if tk.Decision().Level == 0 {
		t.Fatal("hog polling every minute is at level 0")
	}
	if _, ok := m.(*shaped); !ok {
		t.Errorf("the hog's mailbox is %T, want it shaped", m)
	}
	r, _ := m.Retr(ctx, 1)
	if sz, ok := r.(pop3.Sizer); !ok || sz.Size() != 4096 {
		t.Errorf("shaped reader %T lost the message size", r)
	}
	r.Close()
	if _, err := m.Update(ctx); err != nil {
		t.Fatal(err)
	}
	var rec session.Record
	tk.Report(&rec)
	if rec.Throttling == nil || rec.Throttling.Penalty != tk.Decision().Level {
		t.Errorf("Report gave %+v, want penalty %d", rec.Throttling, tk.Decision().Level)
	}
	tk.Release()
	if st, _ := th.Show("hog"); st.Bytes != 10 || st.Msgs != 1 {
		t.Errorf("after UPDATE the state says %d msgs, %d bytes; want 1, 10", st.Msgs, st.Bytes)
	}

	clock.Advance(time.Minute)
	tk, err := th.AdmitUser(ctx, "hog", "legacy", clientA)
	if err != nil || tk.Decision().Level != 0 || tk.Decision().Delay != 0 {
		t.Errorf("next poll after cleanup: %+v, %v; want full speed", tk.Decision(), err)
	}
	tk.Authenticated(pop3.ErrAuthFailed, 0, 0)
	tk.Release()
	if _, n := th.Sessions("legacy"); n != 0 {
		t.Errorf("waiting = %d", n)
	}
	if d, _ := attempt(t, th, clock, "hog", clientA, true); d != th.auth.delay(1) {
		t.Errorf("after a failure reported through Authenticated: delay %s, want %s", d, th.auth.delay(1))
	}
}
