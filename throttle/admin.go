package throttle

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Report is a user's throttle state as operators see it
// (popgate throttle show USER, or the admin endpoint).
type Report struct {
	User string `json:"user"`
	// Known is false when the throttle has no record of the user (never
	// seen by this process, or forgotten by the LRU).
	Known bool `json:"known"`
	// Level is what a login now would get, before its STAT.
	Level      int       `json:"level"`
	LastLevel  int       `json:"last_level"`
	LastLogin  time.Time `json:"last_login,omitzero"`
	IntervalMS int64     `json:"interval_ms"`
	Msgs       int       `json:"msgs"`
	Bytes      int64     `json:"bytes"`
	// LoginDelayMS is the delay a login now would sleep.
	LoginDelayMS int64 `json:"login_delay_ms"`
	Enabled      bool  `json:"enabled"`
}

// Report returns Show's answer in a form ready to print or encode.
func (t *Throttle) Report(user string) Report {
	st, level := t.Show(user)
	return Report{
		User:         user,
		Known:        !st.LastLogin.IsZero(),
		Level:        level,
		LastLevel:    st.Level,
		LastLogin:    st.LastLogin,
		IntervalMS:   st.Interval.Milliseconds(),
		Msgs:         st.Msgs,
		Bytes:        st.Bytes,
		LoginDelayMS: t.conf().loginDelay(level).Milliseconds(),
		Enabled:      t.Enabled(),
	}
}

// ShowHandler serves GET ?user=NAME with the user's Report as JSON, for
// the admin listener. With the in-memory state it is the only way for
// another process to read a user's level.
func (t *Throttle) ShowHandler() http.Handler {
	return t.userHandler("GET, HEAD", func(string) {})
}

// ResetHandler serves POST ?user=NAME: it forgets the user's level and
// failed logins (Reset) and answers with the Report afterwards.
func (t *Throttle) ResetHandler() http.Handler {
	return t.userHandler("POST", t.Reset)
}

// userHandler serves the methods in allow (comma-separated): it calls do
// with the user parameter, then answers with the user's Report as JSON.
func (t *Throttle) userHandler(allow string, do func(user string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(strings.Split(allow, ", "), r.Method) {
			w.Header().Set("Allow", allow)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		user := r.URL.Query().Get("user")
		if user == "" {
			http.Error(w, "missing user parameter", http.StatusBadRequest)
			return
		}
		do(user)
		w.Header().Set("Content-Type", "application/json")
		// An encoding error means the client went away; nothing to do.
		_ = json.NewEncoder(w).Encode(t.Report(user))
	})
}
