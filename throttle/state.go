package throttle

import (
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// UserState is what the throttle remembers about one user.
type UserState struct {
	// LastLogin is the time of the last successful login.
	LastLogin time.Time
	// Interval is the time between the last two successful logins (0 when
	// there was only one).
	Interval time.Duration
	// Msgs and Bytes are the maildrop size last seen: STAT at the last
	// login, or what was left after that session's UPDATE.
	Msgs  int
	Bytes int64
	// Level is the penalty level of the last login.
	Level int
}

// State stores UserState by user name. Implementations must be safe for
// concurrent use. The in-memory LRU is the default; a shared store (Redis)
// lets several popgate instances see the same polls.
type State interface {
	Get(user string) (UserState, bool)
	Put(user string, s UserState)
	// Delete forgets the user (popgate throttle reset).
	Delete(user string)
}

// LRUState is a State bounded to a number of users; the least recently
// used are forgotten first, which at worst lets a forgotten hog start
// again from level 0.
type LRUState struct {
	c *lru.Cache[string, UserState]
}

var _ State = (*LRUState)(nil)

// NewLRUState returns a State holding at most size users.
func NewLRUState(size int) (*LRUState, error) {
	c, err := lru.New[string, UserState](size)
	if err != nil {
		return nil, fmt.Errorf("throttle: user state of size %d: %w", size, err)
	}
	return &LRUState{c: c}, nil
}

// Get returns the user's state.
func (s *LRUState) Get(user string) (UserState, bool) { return s.c.Get(user) }

// Put stores the user's state.
func (s *LRUState) Put(user string, st UserState) { s.c.Add(user, st) }

// Delete forgets the user.
func (s *LRUState) Delete(user string) { s.c.Remove(user) }
