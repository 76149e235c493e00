package proxy

import "sync"

// openMaildrops counts, per user, the sessions of this server that hold
// an open maildrop: what locks a native maildrop, and what a second login
// of the user then finds [IN-USE].
type openMaildrops struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *openMaildrops) add(user string, d int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	if o.n[user] += d; o.n[user] <= 0 {
		delete(o.n, user)
	}
}

// OpenMaildrops returns how many sessions of this server have user's
// maildrop open now, for operators.
func (s *Server) OpenMaildrops(user string) int {
	s.open.mu.Lock()
	defer s.open.mu.Unlock()
	return s.open.n[user]
}
