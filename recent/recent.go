// Package recent keeps the last few session records of each user in
// memory, so that an operator can see them without searching the logs
// (popgate doctor).
package recent

import (
	"slices"
	"sync"
	"time"

	"github.com/popgate/popgate/session"
)

// Session is what is kept of one session.
type Session struct {
	Start       time.Time `json:"start"`
	Client      string    `json:"client"`
	Backend     string    `json:"backend"`
	Auth        string    `json:"auth"`
	Result      string    `json:"result"`
	Error       string    `json:"error,omitempty"`
	Msgs        int       `json:"msgs"`
	RetrMsgs    int       `json:"retr_msgs"`
	DeletedMsgs int       `json:"deleted_msgs"`
	BrokenMsg   int       `json:"broken_msg,omitempty"`
	DelayMS     int64     `json:"delay_ms"`
	DurationMS  int64     `json:"duration_ms"`
}

// Log holds the last sessions of the users seen most recently. It is safe
// for concurrent use.
type Log struct {
	perUser, maxUsers int

	mu    sync.Mutex
	users map[string][]Session // oldest first
	order []string             // users in the order first seen; the first is forgotten first
}

// New returns a Log keeping perUser sessions of up to maxUsers users.
func New(perUser, maxUsers int) *Log {
	return &Log{perUser: perUser, maxUsers: maxUsers, users: map[string][]Session{}}
}

// Add keeps r; sessions that never named a user are not kept. It has the
// shape of proxy.Options.OnSessionEnd.
func (l *Log) Add(r *session.Record) {
	if r.User == "" {
		return
	}
	s := Session{Start: r.Start, Client: r.Client, Backend: r.Backend, Auth: r.Auth, Result: r.Result,
		Msgs: r.Msgs, RetrMsgs: r.RetrMsgs, DeletedMsgs: r.DeletedMsgs, DurationMS: r.Duration.Milliseconds()}
	if r.Err != nil {
		s.Error = r.Err.Error()
	}
	if r.Broken != nil {
		s.BrokenMsg = r.Broken.Num
	}
	if th := r.Throttling; th != nil {
		s.DelayMS = (th.Delay + th.Shaping).Milliseconds()
	}
	s.DelayMS += r.AuthFailDelay.Milliseconds()
	l.mu.Lock()
	defer l.mu.Unlock()
	kept, seen := l.users[r.User]
	if !seen {
		if len(l.order) >= l.maxUsers {
			delete(l.users, l.order[0])
			l.order = l.order[1:]
		}
		l.order = append(l.order, r.User)
	}
	kept = append(kept, s)
	if len(kept) > l.perUser {
		kept = kept[len(kept)-l.perUser:]
	}
	l.users[r.User] = kept
}

// Of returns user's kept sessions, newest first.
func (l *Log) Of(user string) []Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.users[user])
	slices.Reverse(out)
	return out
}
