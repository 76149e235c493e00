package throttle

// AuthFailures returns the failed logins against user still in force, all
// client addresses together, for operators.
func (t *Throttle) AuthFailures(user string) int {
	a := t.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	f, _ := a.user.peek(user)
	return f.Total.current(t.now(), a.conf().AuthFailWindow)
}
