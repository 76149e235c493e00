//go:build !linux

package proxy

// parker is only implemented on Linux; elsewhere a silent session keeps
// its goroutine.
type parker struct{}

func newParker() *parker                       { return nil }
func (p *parker) close()                       {}
func (p *parker) park(s *clientSession) bool   { return false }
func (p *parker) wakeSession(s *clientSession) {}
