package recent

import (
	"errors"
	"testing"
	"time"

	"github.com/popgate/popgate/session"
)

func TestKeepsTheLastSessionsOfRecentUsers(t *testing.T) {
	l := New(2, 2)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		l.Add(&session.Record{User: "ann", Start: at.Add(time.Duration(i) * time.Minute), Result: session.ResultOK, RetrMsgs: i})
	}
	l.Add(&session.Record{Result: session.ResultProtocolError}) // no user: not kept
	l.Add(&session.Record{User: "bob", Result: session.ResultClientGone, Err: errors.New("gone"),
		Broken: &session.BrokenTransfer{Num: 8}, AuthFailDelay: time.Second,
		Throttling: &session.Throttling{Delay: 2 * time.Second}})
	got := l.Of("ann")
	if len(got) != 2 || got[0].RetrMsgs != 2 || got[1].RetrMsgs != 1 {
		t.Errorf("ann's sessions: %+v, want the last two, newest first", got)
	}
	b := l.Of("bob")
	if len(b) != 1 || b[0].BrokenMsg != 8 || b[0].Error != "gone" || b[0].DelayMS != 3000 {
		t.Errorf("bob's session: %+v", b)
	}
	l.Add(&session.Record{User: "cid"}) // a third user: ann, seen first, is forgotten
	if len(l.Of("ann")) != 0 || len(l.Of("bob")) != 1 || len(l.Of("cid")) != 1 {
		t.Error("the least recently added user was not the one forgotten")
	}
}
